"""How lagom calls the training function: its signature decides what it receives.

A parameter named like a hyperparameter gets that value; ``hparams`` gets the whole dict;
``reporter`` a ``Reporter``; ``dataset_factory`` (or ``dataset_function``) and
``model_factory`` (or ``model_function``) the factories of the config; ``**kwargs`` takes
the hyperparameters no parameter names. Checked in the caller before any process starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lakebox.experiment.errors import SignatureError

DATASET_NAMES = ("dataset_factory", "dataset_function")
MODEL_NAMES = ("model_factory", "model_function")


@dataclass(frozen=True)
class CallPlan:
    """Which arguments the function takes: hyperparameters by name, the rest by role."""

    by_name: tuple[str, ...]
    var_kwargs: bool
    hparams_param: bool
    reporter: bool
    dataset: str | None  # the parameter name that takes the dataset factory
    model: str | None

    def kwargs(self, hparams: dict[str, Any], reporter: Any, dataset: Any, model: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.by_name:
            if name in hparams:
                out[name] = hparams[name]
        if self.var_kwargs:
            for name, value in hparams.items():
                if name not in out and not (self.hparams_param and name == "hparams"):
                    out[name] = value
        if self.hparams_param:
            out["hparams"] = dict(hparams)
        if self.reporter:
            out["reporter"] = reporter
        if self.dataset:
            out[self.dataset] = dataset
        if self.model:
            out[self.model] = model
        return out


def describe(fn: Callable[..., Any]) -> str:
    try:
        return f"{getattr(fn, '__name__', 'train')}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return repr(fn)


def plan(fn: Callable[..., Any], hparam_names: Iterable[str], has_dataset: bool, has_model: bool) -> CallPlan:
    """Match the function's parameters with what lagom will pass, or raise ``SignatureError``."""
    if not callable(fn):
        raise SignatureError(f"lagom needs a function to run, got {type(fn).__name__}.")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as e:
        raise SignatureError(f"Cannot read the parameters of {fn!r}: {e}.") from e
    names = list(hparam_names)
    by_name: list[str] = []
    var_kwargs = hparams_param = reporter = False
    dataset = model = None
    missing: list[str] = []
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_kwargs = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        required = param.default is inspect.Parameter.empty
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            if required:
                raise SignatureError(
                    f"{describe(fn)}: positional-only parameter {param.name!r} cannot be passed by name; "
                    "drop the '/' from the signature."
                )
            continue
        if param.name in names:
            by_name.append(param.name)
        elif param.name == "hparams":
            hparams_param = True
        elif param.name == "reporter":
            reporter = True
        elif param.name in DATASET_NAMES:
            if has_dataset:
                dataset = param.name
            elif required:
                raise SignatureError(
                    f"{describe(fn)} takes {param.name!r}, but the config gives no dataset: pass "
                    "feature_view= (and training_dataset_version=) in the config, or give the parameter a default."
                )
        elif param.name in MODEL_NAMES:
            if has_model:
                model = param.name
            elif required:
                raise SignatureError(
                    f"{describe(fn)} takes {param.name!r}, but the config gives no model_factory=; "
                    "pass one, or give the parameter a default."
                )
        elif required:
            missing.append(param.name)
    if missing:
        raise SignatureError(
            f"{describe(fn)} needs {missing}, which the config does not give; the hyperparameters are "
            f"{sorted(names)}. Add them to hparams/searchspace, or give those parameters defaults.",
            missing=missing,
        )
    unused = [n for n in names if n not in by_name]
    if unused and not var_kwargs and not hparams_param:
        raise SignatureError(
            f"{describe(fn)} has no parameter for the hyperparameters {unused}; add them to the signature, "
            "or take **kwargs or an 'hparams' dict.",
            unused=unused,
        )
    return CallPlan(tuple(by_name), var_kwargs, hparams_param, reporter, dataset, model)
