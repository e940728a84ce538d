"""``chainrule playground``: serve the playground page and open it in a browser.

    chainrule playground                         http://127.0.0.1:8765/, opened in a browser
    chainrule playground --port 9000 --no-browser
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys

from chainrule.errors import UsageError

INSTALL = "pip install 'chainrule[playground]'"


def register(subparsers) -> None:
    """Add the ``playground`` subcommand to the ``chainrule`` command."""
    p = subparsers.add_parser(
        "playground",
        help="watch a network learn in the browser, and read any neuron's ledger",
        description="Serve the playground: a page where a small network learns 2-D data "
        "live (datasets, features, layers, activations, regularization), every number "
        "from chainrule's engine; click a neuron for its ledger (forward pass, backward "
        "pass, dl/dw = dz/dw x dl/dz next to autograd). Needs the playground extra: "
        f"{INSTALL}",
    )
    p.add_argument("--port", type=int, default=8765, help="the port to serve on (default 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ModuleNotFoundError as e:
        raise UsageError(f"the playground needs {e.name}, which is not installed. help: "
                         f"{INSTALL}") from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: expected 1 to 65535, got {args.port}")
    _check_free(args.host, args.port)
    if not _loopback(args.host):
        print(f"chainrule playground: warning: serving on {args.host}: other machines can "
              "reach the page and drive it", file=sys.stderr)
    from chainrule.playground.server import serve

    serve(args.host, args.port, open_browser=not args.no_browser)
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _check_free(host: str, port: int) -> None:
    """Refuse a port in use (or an address not on this machine) before starting."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"--host: cannot resolve {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} is in use on {host}. help: chainrule playground "
                                 f"--port {port + 1}") from None
            raise UsageError(f"cannot serve on {host}:{port}: {e.strerror}") from None
