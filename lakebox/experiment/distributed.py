"""Data-parallel helpers for training functions, and the process-group set-up of each rank.

The helpers work in every context: inside a ``TorchDistributedConfig`` run they use the
process group lagom initialised; anywhere else (a plain call, a hyperparameter trial) they are
the identity, so the same function runs unchanged.

>>> shard([0, 1, 2, 3, 4])  # not distributed: everything
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from lakebox.errors import MissingDependencyError, ValidationError


def _dist() -> Any:
    try:
        import torch.distributed as dist
    except ImportError:
        return None
    return dist if dist.is_available() and dist.is_initialized() else None


def is_distributed() -> bool:
    """True inside a rank of a ``TorchDistributedConfig`` run."""
    return _dist() is not None


def rank() -> int:
    dist = _dist()
    return dist.get_rank() if dist is not None else 0


def world_size() -> int:
    dist = _dist()
    return dist.get_world_size() if dist is not None else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", rank()))


def is_main() -> bool:
    """True on rank 0 (and outside distributed runs): the rank that should save files."""
    return rank() == 0


def device() -> Any:
    """This process's device: ``cuda:<local rank>`` in a rank under NCCL, the GPU lagom gave a
    trial worker (``cuda:0`` of its ``CUDA_VISIBLE_DEVICES``), else the CPU."""
    import torch

    dist = _dist()
    if dist is not None and dist.get_backend() == "nccl":
        return torch.device("cuda", local_rank())
    assigned = os.environ.get("LAKEBOX_DEVICE")
    if assigned and assigned.startswith("cuda") and torch.cuda.is_available():
        return torch.device(assigned)
    return torch.device("cpu")


def prepare_model(module: Any, **ddp_kwargs: Any) -> Any:
    """Move a module to this rank's device and wrap it in ``DistributedDataParallel``.

    Outside a distributed run the module is returned unchanged.
    """
    dist = _dist()
    if dist is None:
        return module
    from torch.nn.parallel import DistributedDataParallel

    target = device()
    module = module.to(target)
    if target.type == "cuda":
        ddp_kwargs.setdefault("device_ids", [target.index])
        ddp_kwargs.setdefault("output_device", target.index)
    return DistributedDataParallel(module, **ddp_kwargs)


def shard(data: Any) -> Any:
    """This rank's share of ``data``: every ``world_size``-th item starting at ``rank``.

    A lakebox ``TrainingIterable`` (``fv.torch_dataset``) shards itself and is returned as is;
    a map-style torch ``Dataset`` becomes a ``Subset``; tensors, arrays, lists and pandas or
    polars frames are sliced; a tuple (e.g. ``(X, y)``) is sharded item by item.
    """
    dist = _dist()
    if dist is None:
        return data
    r, n = dist.get_rank(), dist.get_world_size()
    if isinstance(data, tuple):
        return tuple(shard(item) for item in data)
    from lakebox.training.torch_data import TrainingIterable

    if isinstance(data, TrainingIterable):
        return data
    if hasattr(data, "iloc"):  # pandas
        return data.iloc[r::n]
    if hasattr(data, "gather_every"):  # polars
        return data.gather_every(n, offset=r)
    import torch

    if isinstance(data, torch.utils.data.IterableDataset):
        raise ValidationError(
            "shard() cannot split an IterableDataset it does not know; shard inside its __iter__ with "
            "lakebox.experiment.rank() and world_size()."
        )
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.Tensor):
        return torch.utils.data.Subset(data, range(r, len(data), n))  # type: ignore[arg-type]
    try:
        return data[r::n]
    except TypeError as e:
        raise ValidationError(f"shard() cannot slice a {type(data).__name__}; pass a list, tensor, array or Dataset.") from e


def all_reduce_mean(value: float) -> float:
    """The mean of a number over all ranks (the number itself outside a distributed run)."""
    dist = _dist()
    if dist is None:
        return float(value)
    import torch

    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device())
    dist.all_reduce(tensor)
    return float(tensor.item()) / dist.get_world_size()


# -- set-up inside each rank (called by the worker) ------------------------------------------
def loopback_interface() -> str | None:
    """The name of the loopback interface (``lo`` on Linux, ``lo0`` on macOS), if found."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return None
    for name in ("lo", "lo0"):
        if name in names:
            return name
    return next((n for n in names if n.startswith("lo")), None)


def resolve_backend(requested: str, world_size: int) -> str:
    import torch

    cuda = torch.cuda.is_available() and torch.cuda.device_count() >= world_size
    if requested == "auto":
        return "nccl" if cuda and torch.distributed.is_nccl_available() else "gloo"
    if requested == "nccl" and not cuda:
        raise ValidationError(
            f"backend='nccl' needs a CUDA device per rank ({world_size}); this machine has "
            f"{torch.cuda.device_count() if torch.cuda.is_available() else 0}. Use backend='gloo' or 'auto'."
        )
    return requested


def init_from_launcher(backend: str, timeout_s: float, threads: int | None) -> str:
    """Initialise ``torch.distributed`` in a rank that torch's launcher started (``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT`` in the environment);
    returns the backend. Under NCCL rank *r* of a node uses ``cuda:<LOCAL_RANK>``."""
    try:
        import torch
        import torch.distributed as dist
    except ImportError as e:
        raise MissingDependencyError(
            "TorchDistributedConfig needs torch; install it with: pip install 'lakebox[train]'", package="torch"
        ) from e
    if threads:
        torch.set_num_threads(threads)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    backend = resolve_backend(backend, local_world)
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
        os.environ["LAKEBOX_DEVICE"] = f"cuda:{local_rank()}"
    timeout = timedelta(seconds=float(timeout_s))
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true":
        # The launcher's store outlives a restart of the group (torch shares the rendezvous store), so
        # keys of the previous attempt (a dead rank's address) are still there: give each attempt its own
        # prefix, or a restarted rank 0 may dial the dead rank's old port.
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False, timeout=timeout)
        prefixed = dist.PrefixStore(f"lakebox/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)
        dist.init_process_group(backend, store=prefixed, rank=int(os.environ["RANK"]),
                                world_size=int(os.environ["WORLD_SIZE"]), timeout=timeout)
    else:
        dist.init_process_group(backend, init_method="env://", timeout=timeout)
    return backend
