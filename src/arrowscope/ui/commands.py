"""``arrowscope ui`` and ``arrowscope report``: their arguments and what they run.

This module imports nothing of the ``ui`` extra at import time, so the
``arrowscope`` command starts without it; running either command without
the extra fails with the ``pip install`` line to run.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import TextIO

from arrowscope.ui.security import Access, is_loopback, new_token

logger = logging.getLogger(__name__)

UI_HELP = "serve a read-only web app over a data directory (tables, curves, SQL)"
UI_DESCRIPTION = (
    "Serve a read-only web app over PATH: runs, rounds with their trials and charts, trials, "
    "comparisons and a SQL box. It listens on 127.0.0.1 by default; on any other address it "
    "needs a token (printed in the URL, or given with --token). Every file it serves comes "
    "from this machine: it works offline. Pages update by themselves while another process "
    "logs into PATH."
)
REPORT_HELP = "write one round's table and charts as a self-contained HTML file"


def ui_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``arrowscope ui``."""
    parser.add_argument("path", metavar="PATH|URI", help="the data directory (or a file:// URI)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port (default 8765; 0: any free one)"
    )
    parser.add_argument("--token", help="the token to require (default: a random one off loopback)")
    parser.add_argument("--open", action="store_true", help="open the app in a web browser")
    parser.add_argument(
        "--refresh",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between checks for new data",
    )


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``arrowscope report``."""
    parser.add_argument("path", metavar="PATH|URI", help="the data directory (or a file:// URI)")
    parser.add_argument(
        "--html", type=Path, required=True, metavar="FILE", help="the file to write"
    )
    parser.add_argument("--project", metavar="P", help="project name")
    parser.add_argument("--client", metavar="C", help="client name")
    parser.add_argument(
        "--round", type=int, metavar="N", help="round number (default: the latest of the client)"
    )


def run_ui_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Serve the app until interrupted; prints the URL to open first."""
    serve(args.path, args.host, args.port, args.token, args.open, args.refresh, out or sys.stdout)
    return 0


def run_report_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Write the report; prints which round went where."""
    from arrowscope.ui.report import write_report

    key = write_report(args.path, args.html, args.project, args.client, args.round)
    print(f"wrote {args.html}: {key.project} › {key.client} › round {key.round}", file=out)
    return 0


def serve(
    source: str,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    open_browser: bool = False,
    refresh_interval: float = 1.0,
    out: TextIO | None = None,
) -> None:
    """Serve the app over ``source`` until interrupted.

    The socket is bound first and the URL printed at once; the data directory
    is read in the background meanwhile (pages show "Loading…" until then).

    Raises:
        ImportError: the ``ui`` extra is not installed.
        FileNotFoundError: ``source`` is a path to no directory.
        OSError: the address cannot be bound.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError("arrowscope ui needs its extra: pip install 'arrowscope[ui]'") from exc
    from arrowscope.ui.live import LiveData, source_path
    from arrowscope.ui.server import build_app

    local = os.fspath(source_path(source))
    if "://" not in local and not Path(local).is_dir():
        raise FileNotFoundError(f"no arrowscope data directory at {local!r}")
    if token is None and not is_loopback(host):
        token = new_token()
    sock = _bind(host, port)
    access = Access(host, sock.getsockname()[1], token)
    data = LiveData(source, refresh_interval=refresh_interval)
    data.start()
    app = build_app(data, access)
    url = access.url()
    print(f"arrowscope ui: serving {source} at {url}", file=out or sys.stdout, flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        data.close()
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
