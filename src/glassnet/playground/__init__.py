"""The glassnet playground: build, train and look inside a network, live in the browser.

``glassnet playground`` starts a local web server (Starlette + uvicorn, from the
``glassnet[playground]`` extra) and opens the page. Everything runs offline: the page's
JavaScript, CSS and KaTeX fonts ship inside this package.

Importing this package needs only NumPy; the web server is imported by :func:`main`.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
import webbrowser
from typing import Any

from glassnet.playground.settings import Limits

_EXTRA_HINT = "glassnet playground needs its extra: pip install 'glassnet[playground]'"


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``playground`` subcommand to the ``glassnet`` command's subparsers."""
    parser = commands.add_parser("playground", help="train a network live in the browser "
                                 "(needs glassnet[playground])")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--max-layers", type=int, default=Limits.max_layers, help="hidden layers per network")
    parser.add_argument("--max-units", type=int, default=Limits.max_units, help="units per hidden layer")
    parser.add_argument("--max-sessions", type=int, default=Limits.max_sessions,
                        help="browser tabs served at once")
    parser.set_defaults(func=main)
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_arguments(args: argparse.Namespace) -> Limits:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    for name in ("max_layers", "max_units", "max_sessions"):
        if not 1 <= getattr(args, name) <= 64:
            raise ValueError(f"--{name.replace('_', '-')} must be in 1..64, got {getattr(args, name)}")
    return Limits(max_layers=args.max_layers, max_units=args.max_units, max_sessions=args.max_sessions)


def main(args: argparse.Namespace) -> int:
    """Run the playground server until Ctrl-C. Returns the exit status (2 for bad arguments)."""
    try:
        limits = _check_arguments(args)
    except ValueError as error:
        print(f"glassnet playground: error: {error}", file=sys.stderr)
        return 2
    try:
        from glassnet.playground import server
    except ImportError:
        print(_EXTRA_HINT, file=sys.stderr)
        return 2
    try:
        sock = server.bind(args.host, args.port)
    except OSError as error:
        print(f"glassnet playground: error: cannot listen on {args.host}:{args.port}: {error.strerror}",
              file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}/"
    if not _is_loopback(args.host):
        print(f"WARNING: listening on {args.host}, so other computers can reach the playground "
              "(no login, no encryption); use it on a network you trust, e.g. a classroom.")
    print(f"glassnet playground at {url}  (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve(sock, limits)
    except KeyboardInterrupt:
        pass
    return 0
