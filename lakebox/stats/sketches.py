"""The mergeable parts of a summary: a HyperLogLog distinct counter, a dyadic histogram, a
quantile sketch (Apache DataSketches KLL), and the frequent values of a string feature.

Every part here has a bounded size, whatever the number of rows it has seen, and merges
associatively and commutatively:

- :class:`Hll`: HyperLogLog with 2^12 registers over 64-bit hashes, estimated with Ertl's improved
  raw estimator (unbiased over the whole range, no empirical tables). Relative standard error
  1.04 / sqrt(4096) = 1.6%. Merge = register-wise max. Cannot subtract.
  (DataSketches' ``hll_sketch`` takes one value per Python call: 1M calls per column per commit;
  these registers update from numpy arrays in ~40 ms per 1M values.)
- :class:`DyadicHistogram`: counts in the bins ``[k * 2^e, (k + 1) * 2^e)``. ``x / 2^e`` is exact
  in floating point, so every value lands in its bin exactly; two histograms with different ``e``
  merge exactly by coarsening the finer one (a bin of width ``2^e`` is the union of two of width
  ``2^(e-1)``). At most ``MAX_BINS`` bins are kept (the exponent grows with the range). Merge and
  subtract are exact; there is no re-binning error.
- :func:`kll_new` & co: DataSketches ``kll_doubles_sketch`` (k=200): normalized rank error
  ``KLL_RANK_ERROR`` (about 1.33% for one quantile, 99% confidence). Cannot subtract.
- :class:`Top`: the ``TOP_KEEP`` most frequent values with counts: exact while a feature has at
  most ``TOP_KEEP`` distinct values (``complete``), else a mergeable heavy-hitter list whose counts
  are lower bounds, off by at most ``error``.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import datasketches
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

from lakebox.errors import StorageError, ValidationError
from lakebox.offline.reader import connect, cursor

HLL_P = 12
_M = 1 << HLL_P
_Q = 64 - HLL_P
HLL_ERROR = 1.04 / math.sqrt(_M)
KLL_K = 200
KLL_RANK_ERROR = datasketches.kll_doubles_sketch.get_normalized_rank_error(KLL_K, False)
MAX_BINS = 128
TOP_KEEP = 100
_HASH_SCAN = "lakebox_hash"
# DuckDB hashes each value (its ``hash`` is what string summaries share: string_hash_id);
# numpy buckets the hashes (``Hll.of``). Fixed text: no name or value of the user's.
_HASH_SQL = "SELECT hash(v) AS h FROM lakebox_hash WHERE v IS NOT NULL"
assert _HASH_SCAN == "lakebox_hash"
_PROBE = "lakebox"


def _b64(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 1)).decode("ascii")  # level 6: 2x the CPU, 3% smaller


def _unb64(text: str) -> bytes:
    try:
        return zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
    except (ValueError, zlib.error) as e:
        raise ValidationError(f"A statistics summary holds a damaged sketch ({e}); recompute the statistics.") from e


# ---------------------------------------------------------------------------------------------
# hashing


NUMBER_HASH = "splitmix64"  # how numbers and times are hashed (``number_hashes``)


@lru_cache(maxsize=1)
def string_hash_id() -> str:
    """Identifies the hash functions of a summary's distinct counters: DuckDB's for strings
    and binaries (a new DuckDB version may change it) and ``NUMBER_HASH`` for numbers and
    times. Summaries whose functions differ cannot share HLL registers exactly
    (``hash_parts`` splits the id; an id without a numbers part hashed numbers in DuckDB)."""
    con = connect()
    try:
        select = exp.select(exp.func("hash", exp.Literal.string(_PROBE)))
        strings = con.execute(select.sql(dialect="duckdb")).fetchone()[0]  # type: ignore[index]
        return f"duckdb:{strings};numbers:{NUMBER_HASH}"
    finally:
        con.close()


def hash_parts(hash_id: str) -> tuple[str, str]:
    """``(strings, numbers)``: the hash function of strings and binaries, and of numbers and times."""
    strings, _, numbers = hash_id.partition(";numbers:")
    return strings, numbers or "duckdb"


def number_hashes(values: np.ndarray) -> np.ndarray:
    """64-bit hashes of numbers or times (numpy integers or floats; no nulls): the splitmix64
    finalizer over the value's 64 bits, in numpy (DuckDB's ``hash`` cost 20-45 ms of CPU per
    1M values, this 5-10 ms). Equal values hash alike: every NaN is one value and -0.0 is
    0.0, as a distinct count needs."""
    if values.dtype.kind == "f":
        floats = values.astype(np.float64) + 0.0  # a copy, in which -0.0 is 0.0
        floats[np.isnan(floats)] = np.nan
        bits = floats.view(np.uint64)
    else:
        bits = values.astype(np.int64, copy=False).view(np.uint64)
    h = bits ^ (bits >> np.uint64(30))
    h *= np.uint64(0xBF58476D1CE4E5B9)  # unsigned multiplication wraps modulo 2^64
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _numbers(values: Any) -> np.ndarray | None:
    """``values`` as a numpy array of numbers if they are numbers (None: strings, binaries)."""
    if isinstance(values, np.ndarray):
        return values if values.dtype.kind in "iuf" else None
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and (
        pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    ):
        return np.asarray(pc.drop_null(values) if values.null_count else values)
    return None


def hll_of(values: pa.Array | pa.ChunkedArray | np.ndarray) -> Hll:
    """The HLL of the non-null ``values`` (numbers, times, strings, binaries). Numbers are
    hashed by ``number_hashes``; strings and binaries by DuckDB in one vectorised pass (it
    hashes what Arrow holds, whatever the type); ``Hll.of`` buckets the hashes. (Bucketing in
    DuckDB too, with a GROUP BY over the 4096 registers, cost ~25 ms per column whatever its
    length: 12 features made a 1,000-row commit's statistics cost 50 ms.)"""
    if not len(values):
        return Hll()
    numbers = _numbers(values)
    if numbers is not None:
        return Hll.of(number_hashes(numbers))
    con = cursor()
    try:
        con.register(_HASH_SCAN, pa.table({"v": values}))
        hashes = con.execute(_HASH_SQL).fetchnumpy()["h"]
    except duckdb.Error as e:
        raise StorageError(f"Counting distinct values failed in DuckDB: {e}") from e
    finally:
        con.close()
    return Hll.of(np.asarray(hashes, dtype=np.uint64))


def hll_many(columns: list[Any]) -> list[Hll]:
    """``[hll_of(values) for values in columns]`` with one DuckDB scan for the strings and
    binaries among them, for small columns: a query costs ~2 ms of CPU however short, so a
    1,000-row commit of 12 features spent 24 ms hashing. Those columns become one table (each
    padded with nulls to the longest, keeping its own type: its hashes depend on it), and only
    each column's own rows count. Numbers are hashed in numpy, as ``hll_of`` does."""
    out: list[Hll] = [Hll() for _ in columns]
    arrays, slots = [], []
    for slot, values in enumerate(columns):
        numbers = _numbers(values)
        if numbers is not None:
            out[slot] = Hll.of(number_hashes(numbers))
            continue
        array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else pa.array(values)
        arrays.append(pc.drop_null(array) if array.null_count else array)
        slots.append(slot)
    longest = max((len(a) for a in arrays), default=0)
    if longest == 0:
        return out
    names = [f"v{i}" for i in range(len(arrays))]  # no user text
    padded = [pa.concat_arrays([a, pa.nulls(longest - len(a), a.type)]) if len(a) < longest else a for a in arrays]
    query = exp.select(*[exp.func("hash", exp.column(name)).as_(f"h{i}") for i, name in enumerate(names)]).from_(
        _HASH_SCAN
    )
    con = cursor()
    try:
        con.register(_HASH_SCAN, pa.table(padded, names=names))
        found = con.execute(query.sql(dialect="duckdb")).fetchnumpy()
    except duckdb.Error as e:
        raise StorageError(f"Counting distinct values failed in DuckDB: {e}") from e
    finally:
        con.close()
    for i, (slot, array) in enumerate(zip(slots, arrays, strict=True)):
        out[slot] = Hll.of(np.asarray(found[f"h{i}"][: len(array)], dtype=np.uint64))
    return out


# ---------------------------------------------------------------------------------------------
# HyperLogLog


class Hll:
    """HyperLogLog registers (2^12 of them, values 0..53) over 64-bit hashes."""

    __slots__ = ("registers",)

    def __init__(self, registers: np.ndarray | None = None) -> None:
        self.registers = np.zeros(_M, dtype=np.uint8) if registers is None else registers

    @classmethod
    def of(cls, hashes: np.ndarray) -> Hll:
        sketch = cls()
        if len(hashes):
            index = (hashes >> np.uint64(_Q)).astype(np.intp)
            rest = (hashes & np.uint64((1 << _Q) - 1)).astype(np.float64)  # < 2^52: exact
            # the exponent bits: 1023 + floor(log2(rest)), 0 for rest 0 (whose rank is _Q + 1)
            biased = (rest.view(np.uint64) >> np.uint64(52)).astype(np.uint16)
            rank = np.minimum(np.uint16(_Q + 1023) - biased, np.uint16(_Q + 1)).astype(np.uint8)
            np.maximum.at(sketch.registers, index, rank)
        return sketch

    def merge(self, other: Hll) -> Hll:
        return Hll(np.maximum(self.registers, other.registers))

    def estimate(self) -> float:
        """Ertl (2017), "New cardinality estimation algorithms for HyperLogLog sketches", Alg. 6."""
        counts = np.bincount(self.registers, minlength=_Q + 2).astype(np.float64)
        m = float(_M)
        z = m * _tau(1.0 - counts[_Q + 1] / m)
        for k in range(_Q, 0, -1):
            z = 0.5 * (z + counts[k])
        z += m * _sigma(counts[0] / m)
        return m * m / (2.0 * math.log(2.0) * z) if z > 0 else 0.0

    def to_json(self) -> str:
        return _b64(self.registers.tobytes())

    @classmethod
    def from_json(cls, text: str) -> Hll:
        registers = np.frombuffer(_unb64(text), dtype=np.uint8).copy()
        if len(registers) != _M:
            raise ValidationError("A statistics summary holds a damaged distinct sketch; recompute the statistics.")
        return cls(registers)


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


# ---------------------------------------------------------------------------------------------
# dyadic histogram


class DyadicHistogram:
    """``counts[i]`` values in ``[(start + i) * 2^exponent, (start + i + 1) * 2^exponent)``."""

    __slots__ = ("counts", "exponent", "start")

    def __init__(self, exponent: int, start: int, counts: np.ndarray) -> None:
        self.exponent, self.start, self.counts = int(exponent), int(start), counts.astype(np.int64)

    @classmethod
    def of(cls, values: np.ndarray) -> DyadicHistogram | None:
        """The finest histogram of at most ``MAX_BINS`` bins holding the finite ``values``."""
        if not len(values):
            return None
        lo, hi = float(values.min()), float(values.max())
        top = max(abs(lo), abs(hi))
        # |x / 2^e| < 2^53 keeps bin numbers exact; a zero-width range needs no finer bins
        exponent = (math.frexp(top)[1] - 53) if top > 0 else -1074
        span = hi / 2 - lo / 2  # never overflows
        if span > 0:  # 2^e >= (hi - lo) / (MAX_BINS - 1) is necessary: start there
            exponent = max(exponent, math.frexp(span / (MAX_BINS - 1))[1])
        exponent = max(exponent, -1074)
        while _bin(hi, exponent) - _bin(lo, exponent) + 1 > MAX_BINS:
            exponent += 1
        bins = _bins(values, exponent)
        start = int(bins.min())
        return cls(exponent, start, np.bincount(bins - start).astype(np.int64))

    def coarsened(self, exponent: int) -> DyadicHistogram:
        if exponent <= self.exponent:
            return self
        shift = exponent - self.exponent
        first = self.start >> shift
        index = ((self.start + np.arange(len(self.counts), dtype=np.int64)) >> shift) - first
        return DyadicHistogram(exponent, first, np.bincount(index, weights=self.counts).astype(np.int64))

    def _aligned(self, other: DyadicHistogram) -> tuple[DyadicHistogram, DyadicHistogram]:
        exponent = max(self.exponent, other.exponent)
        a, b = self.coarsened(exponent), other.coarsened(exponent)
        while max(a.end, b.end) - min(a.start, b.start) > MAX_BINS:
            exponent += 1
            a, b = a.coarsened(exponent), b.coarsened(exponent)
        return a, b

    @property
    def end(self) -> int:
        return self.start + len(self.counts)

    def merge(self, other: DyadicHistogram) -> DyadicHistogram:
        a, b = self._aligned(other)
        start = min(a.start, b.start)
        counts = np.zeros(max(a.end, b.end) - start, dtype=np.int64)
        counts[a.start - start : a.end - start] += a.counts
        counts[b.start - start : b.end - start] += b.counts
        return DyadicHistogram(a.exponent, start, counts)

    def subtract(self, removed: DyadicHistogram) -> tuple[DyadicHistogram | None, bool]:
        """Self minus ``removed`` and whether that was exact (removed values in known bins)."""
        exponent = max(self.exponent, removed.exponent)
        a, b = self.coarsened(exponent), removed.coarsened(exponent)
        counts = a.counts.copy()
        lo, hi = max(a.start, b.start), min(a.end, b.end)
        if hi > lo:
            counts[lo - a.start : hi - a.start] -= b.counts[lo - b.start : hi - b.start]
        outside = int(b.counts.sum()) - (int(b.counts[lo - b.start : hi - b.start].sum()) if hi > lo else 0)
        exact = outside == 0 and bool((counts >= 0).all())
        counts = counts.clip(0)
        nonzero = np.flatnonzero(counts)
        if not len(nonzero):
            return None, exact
        first, last = int(nonzero[0]), int(nonzero[-1])
        return DyadicHistogram(exponent, a.start + first, counts[first : last + 1]), exact

    def histogram(self, bins: int) -> dict[str, list[Any]]:
        """``{"edges", "counts"}`` with at most ``bins`` bins: coarsened, empty ends trimmed."""
        h = self
        nonzero = np.flatnonzero(h.counts)
        start, end = h.start + int(nonzero[0]), h.start + int(nonzero[-1]) + 1
        exponent = h.exponent
        while (end - 1 >> (exponent - h.exponent)) - (start >> (exponent - h.exponent)) + 1 > bins:
            exponent += 1
        h = h.coarsened(exponent)
        nonzero = np.flatnonzero(h.counts)
        counts = h.counts[nonzero[0] : nonzero[-1] + 1]
        first = h.start + int(nonzero[0])
        biggest = np.finfo(np.float64).max
        edges = [max(-biggest, min(biggest, math.ldexp(float(first + i), exponent))) for i in range(len(counts) + 1)]
        return {"edges": edges, "counts": [int(c) for c in counts]}

    def to_json(self) -> dict[str, Any]:
        return {"exponent": self.exponent, "start": self.start, "counts": [int(c) for c in self.counts]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DyadicHistogram:
        return cls(int(data["exponent"]), int(data["start"]), np.asarray(data["counts"], dtype=np.int64))


def _bin(x: float, exponent: int) -> int:
    scaled = math.ldexp(x, -exponent)
    if scaled == 0.0 and x < 0:
        return -1  # a tiny negative value that underflowed
    return math.floor(scaled)


def _bins(values: np.ndarray, exponent: int) -> np.ndarray:
    scaled = np.ldexp(values, -exponent)
    # a tiny negative value can only underflow to 0 when scaling down (exponent > 0): only
    # then is the extra pass over the values needed
    underflow = (scaled == 0.0) & (values < 0) if exponent > 0 else None
    bins = np.floor(scaled, out=scaled).astype(np.int64)
    if underflow is not None:
        bins[underflow] = -1
    return bins


# ---------------------------------------------------------------------------------------------
# KLL quantile sketch (Apache DataSketches)


def kll_new(values: np.ndarray) -> datasketches.kll_doubles_sketch:
    sketch = datasketches.kll_doubles_sketch(KLL_K)
    if len(values):
        sketch.update(np.require(values, np.float64, ["C", "W"]))  # nanobind wants a writable array
    return sketch


def kll_merge(
    a: datasketches.kll_doubles_sketch, b: datasketches.kll_doubles_sketch
) -> datasketches.kll_doubles_sketch:
    merged = datasketches.kll_doubles_sketch.deserialize(a.serialize())
    merged.merge(b)
    return merged


def kll_quantiles(sketch: datasketches.kll_doubles_sketch, probabilities: list[float]) -> dict[str, float | None]:
    """Quantiles from the sketch: linearly interpolated exactly (as ``compute_statistics``) while
    the sketch still holds every value, the sketch's quantile (rank error ``KLL_RANK_ERROR``) after."""
    if sketch.is_empty() or not probabilities:
        return {str(p): None for p in probabilities}
    if not sketch.is_estimation_mode():
        values = np.sort(np.fromiter((item for item, _ in sketch), dtype=np.float64))
        position = np.asarray(probabilities) * (len(values) - 1)
        below = np.floor(position).astype(np.intp)
        above = np.minimum(below + 1, len(values) - 1)
        low, high = values[below], values[above]
        with np.errstate(all="ignore"):
            result = np.where(low == high, low, low + (high - low) * (position - below))
        return {str(p): _finite_or_none(v) for p, v in zip(probabilities, result, strict=True)}
    return {str(p): _finite_or_none(sketch.get_quantile(p)) for p in probabilities}


def kll_to_json(sketch: datasketches.kll_doubles_sketch) -> str:
    return _b64(sketch.serialize())


def kll_from_json(text: str) -> datasketches.kll_doubles_sketch:
    try:
        return datasketches.kll_doubles_sketch.deserialize(_unb64(text))
    except (RuntimeError, ValueError) as e:
        raise ValidationError(f"A statistics summary holds a damaged quantile sketch ({e}); recompute it.") from e


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------
# frequent values


class Top:
    """Counts of the most frequent values: all of them while ``complete``, else the ``TOP_KEEP``
    heaviest, each count a lower bound at most ``error`` below the true one."""

    __slots__ = ("complete", "counts", "error")

    def __init__(self, counts: dict[Any, int], complete: bool, error: int = 0) -> None:
        self.counts, self.complete, self.error = counts, complete, int(error)

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> tuple[Top, pa.Array]:
        """The top of a column, and its distinct non-null values (to hash for the HLL)."""
        pairs = pc.value_counts(pc.drop_null(column)) if column.null_count else pc.value_counts(column)
        values, counts = pairs.field("values"), pairs.field("counts").to_numpy()
        return cls._truncated(values, counts, complete=True, error=0), values

    @classmethod
    def _truncated(cls, values: Any, counts: np.ndarray, complete: bool, error: int) -> Top:
        if len(counts) <= TOP_KEEP:
            keys = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
            return cls(dict(zip(keys, (int(c) for c in counts), strict=True)), complete, error)
        keep = np.argpartition(-counts, TOP_KEEP)[: TOP_KEEP + 1]
        keep = keep[np.argsort(-counts[keep], kind="stable")]
        dropped = int(counts[keep[TOP_KEEP]])  # the largest count left out
        chosen = keep[:TOP_KEEP]
        if hasattr(values, "take"):
            keys = values.take(pa.array(chosen)).to_pylist()
        else:
            keys = [values[i] for i in chosen]
        return cls(dict(zip(keys, (int(counts[i]) for i in chosen), strict=True)), False, error + dropped)

    def merge(self, other: Top) -> Top:
        counts = dict(self.counts)
        for value, count in other.counts.items():
            counts[value] = counts.get(value, 0) + count
        keys = list(counts)
        return Top._truncated(
            keys,
            np.asarray([counts[k] for k in keys], dtype=np.int64),
            complete=self.complete and other.complete,
            error=self.error + other.error,
        )

    def subtract(self, removed: Top) -> tuple[Top, bool]:
        counts = dict(self.counts)
        exact = self.complete and removed.complete
        for value, count in removed.counts.items():
            left = counts.get(value, 0) - count
            exact = exact and left >= 0
            if left > 0:
                counts[value] = left
            else:
                counts.pop(value, None)
        return Top(counts, self.complete and exact, self.error), exact

    def most_frequent(self, n: int) -> list[list[Any]]:
        pairs = sorted(self.counts.items(), key=lambda p: (-p[1], p[0]))[:n]
        return [[value, count] for value, count in pairs]

    def to_json(self) -> dict[str, Any]:
        return {"values": [[v, c] for v, c in self.counts.items()], "complete": self.complete, "error": self.error}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Top:
        return cls({v: int(c) for v, c in data["values"]}, bool(data["complete"]), int(data["error"]))
