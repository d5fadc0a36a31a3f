"""The distinct counters' hashing: numbers in numpy, strings in DuckDB, one id for both.

Statistics of small commits hash every feature in one batched call (``hll_many``), big ones
per column (``hll_of``): both must give the same registers, or merged summaries would count
a value twice. A summary written before numbers were hashed in numpy (its hash id has no
numbers part) must not be merged as if its registers were comparable.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from lakebox.stats import summarize
from lakebox.stats.sketches import HLL_ERROR, Hll, hash_parts, hll_many, hll_of, number_hashes, string_hash_id
from lakebox.stats.summary import Summary


def test_equal_numbers_hash_alike_and_others_do_not() -> None:
    floats = np.array([0.0, -0.0, np.nan, -np.nan, np.float64("nan") * 0, 1.0, -1.0, np.inf, -np.inf])
    h = number_hashes(floats)
    assert h[0] == h[1]  # -0.0 is 0.0
    assert h[2] == h[3] == h[4]  # every NaN is one value
    assert len(set(h[[0, 2, 5, 6, 7, 8]].tolist())) == 6
    ints = number_hashes(np.arange(-5, 5, dtype=np.int32))
    assert len(set(ints.tolist())) == 10
    assert number_hashes(np.array([7], np.int16))[0] == number_hashes(np.array([7], np.int64))[0]


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300), st.lists(st.text(max_size=5), max_size=300))
def test_batched_and_single_column_hashing_agree(numbers: list[int], words: list[str]) -> None:
    columns = [np.array(numbers, np.int64), pa.chunked_array([pa.array(words, pa.string())]),
               np.array(numbers, np.int64).astype(np.float64)]  # fmt: skip
    batched = hll_many(columns)
    for column, sketch in zip(columns, batched, strict=True):
        assert np.array_equal(sketch.registers, hll_of(column).registers)


def test_distinct_counts_of_numbers_are_within_the_stated_error() -> None:
    rng = np.random.default_rng(3)
    for distinct in (10, 1_000, 200_000):
        values = rng.choice(rng.integers(-(2**62), 2**62, distinct), 400_000)
        exact = len(np.unique(values))
        for column in (values, values.astype(np.float64) / 7):
            estimate = hll_of(column).estimate()
            assert abs(estimate - exact) <= max(4 * HLL_ERROR * exact, 1), (distinct, estimate, exact)


def test_registers_of_an_empty_input_are_empty() -> None:
    assert not Hll.of(np.zeros(0, np.uint64)).registers.any()
    assert not hll_of(np.zeros(0, np.float64)).registers.any()


def test_a_summary_hashed_by_an_older_lakebox_marks_merged_distinct_counts_approximate() -> None:
    rows = pa.table({"x": [1.0, 2.0, 3.0], "n": [1, 2, 2], "s": ["a", "b", "b"]})
    new = summarize(rows)
    assert hash_parts(new.hash_id)[1] == "splitmix64" and new.hash_id == string_hash_id()
    strings_only = hash_parts(new.hash_id)[0]  # what an older summary's id held: DuckDB hashed numbers too
    old = Summary.from_dict({**new.to_dict(), "hash": strings_only})
    assert old.hash_id == strings_only
    merged = old.merge(new)
    assert "distinct" in merged.approximate.get("x", []) and "distinct" in merged.approximate.get("n", [])
    assert "distinct" not in merged.approximate.get("s", [])  # strings were hashed alike
    assert not new.merge(summarize(rows)).approximate  # same hashing: exact
