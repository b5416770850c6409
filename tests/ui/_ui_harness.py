"""The UI tests' harness: start and stop ``arrowscope ui``, watch what a page does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]


def environment() -> dict[str, str]:
    """The environment of the processes the tests start (this checkout's src first)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    return env


def start_ui(path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``arrowscope ui path --port 0 args``; returns the process and the URL it printed."""
    command = [sys.executable, "-m", "arrowscope.cli", "ui", str(path), "--port", "0", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://\S+", line)
    if found is None:
        proc.kill()
        raise AssertionError(f"arrowscope ui printed no URL: {line!r}")
    return proc, found.group(0)


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop a process the tests started, and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@dataclass
class Watched:
    """A page and what it did: console errors, dialogs, requests."""

    page: Any
    origin: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def watch(context: Any, origin: str) -> Watched:
    """A new page of ``context`` recording what it does; requests not to ``origin`` abort."""
    page = context.new_page()
    watched = Watched(page, origin)
    page.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    page.on("pageerror", lambda e: watched.errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    def route(route: Any) -> None:
        url = route.request.url
        watched.requests.append(url)
        if url.startswith((origin + "/", "data:", "blob:")) or url == origin:
            route.continue_()
        else:
            watched.offsite.append(url)
            route.abort()

    context.route("**/*", route)
    return watched
