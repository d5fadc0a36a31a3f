"""torch's launcher (``torch.distributed.run``), kept on loopback for runs on one machine.

torch elastic's stores (the rendezvous store and the one the ranks share) listen on every
interface, and ``torch.distributed`` has no authentication: anyone on the network could join or
disturb a run while it lasts. On one machine nothing needs to reach them from outside, so this
wrapper binds each store's listening socket on 127.0.0.1 itself and hands it to the store
(``master_listen_fd``), then runs ``torch.distributed.run`` unchanged. Runs on several machines
use ``torch.distributed.run`` as it is (their stores must be reachable: keep them on a private
network).

``python -m lakebox.experiment.launcher --loopback <torchrun arguments>``
"""

from __future__ import annotations

import socket
import sys
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NAMES = ("host_name", "port", "world_size", "is_master", "timeout", "wait_for_workers", "multi_tenant",
          "master_listen_fd", "use_libuv")


def keep_stores_on_loopback() -> None:
    """Make every TCPStore server that torch elastic creates for a loopback host listen on 127.0.0.1 only."""
    import torch.distributed as dist
    from torch.distributed.elastic.rendezvous import c10d_rendezvous_backend, static_tcp_rendezvous

    original = dist.TCPStore

    class LoopbackTCPStore(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.update(zip(_NAMES, args, strict=False))
            host = kwargs.get("host_name")
            if kwargs.get("is_master") and host in LOOPBACK and kwargs.get("master_listen_fd") is None:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", int(kwargs.get("port") or 0)))
                listener.listen(2048)
                kwargs["host_name"] = "127.0.0.1"
                kwargs["port"] = listener.getsockname()[1]
                kwargs["master_listen_fd"] = listener.detach()  # the store owns the socket from here on
            super().__init__(**kwargs)

    dist.TCPStore = LoopbackTCPStore  # type: ignore[misc]
    c10d_rendezvous_backend.TCPStore = LoopbackTCPStore  # type: ignore[misc]
    static_tcp_rendezvous.TCPStore = LoopbackTCPStore  # type: ignore[misc]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--loopback"]:
        args = args[1:]
        keep_stores_on_loopback()
    from torch.distributed.run import main as torchrun

    torchrun(args)


if __name__ == "__main__":
    main()
