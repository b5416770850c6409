"""The web app on a large round: start-up, round page data warm and after a change, in a browser.

Run: ``.venv/bin/python benchmarks/bench_ui.py [--trials N] [--repeat R] [--dir DIR]``.
Builds (or reuses, with ``--dir``) a round of N trials × 5 splits × 20
epochs of one validation metric (10,000 trials: 1M values) through the
public API, with four hyperparameters and one failed trial in a thousand,
then starts ``arrowscope ui`` on it and measures, in milliseconds (min,
median and max over R repeats):

* start-up: from starting the command to its URL printed, to the first page
  (``/``, the HTML) and to the home page's data (``/api/home``: the data
  directory read and the views computed);
* round page data, warm: ``/api/round`` (table, hyperparameters, metrics,
  failures and the best trials' curves) asked again on unchanged data;
* curves of five trials chosen at random (a new selection each time);
* round page data after another process added a trial: the app refreshes,
  then ``/api/round`` is computed again;
* in Chromium (Playwright): a fresh page on the round, from navigation start
  to the ``/api/round`` response end, to the trial table shown, and to the
  learning curves drawn once scrolled to (charts draw when they come into
  view).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arrowscope as asc

SCRATCH = Path(__file__).resolve().parent / ".scratch"
SPLITS, EPOCHS = 5, 20
PROJECT, CLIENT = "bench", "mlp"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]


def _space() -> asc.HyperparameterSpace:
    return asc.HyperparameterSpace(
        {
            "lr": asc.LogUniform(1e-4, 1e-1),
            "depth": asc.RandInt(1, 8),
            "act": asc.Choice(["relu", "tanh", "gelu"]),
            "dropout": asc.Uniform(0.0, 0.5),
        }
    )


def add_trials(directory: Path, n_trials: int, seed: int) -> None:
    """Log ``n_trials`` trials into the client's last round (created if missing)."""
    rng = random.Random(seed)
    root = asc.Root.at(directory)
    with root.get_project(PROJECT) as p, p.get_client(CLIENT) as c, c.resume_last_round() as rnd:
        rnd.with_optimizer(asc.RandomSearch(seed=seed), _space())
        for i in range(n_trials):
            try:
                with rnd.new_rvs_trial() as trial:
                    for _ in range(SPLITS):
                        with trial.new_validation_split() as split:
                            level = rng.random()
                            values = (
                                level + 1.0 / (e + 1) + 0.01 * rng.random() for e in range(EPOCHS)
                            )
                            with split.managed_metric("loss", higher_score_is_better=False) as m:
                                m.add_valid_results(array("d", values))
                    if i % 1000 == 999:
                        raise RuntimeError(f"diverged (trial {i} of writer {seed})")
            except RuntimeError:
                pass
    root.close()


def build(directory: Path, n_trials: int, workers: int) -> float:
    """Log the round with ``workers`` processes sharing it; returns the seconds it took."""
    start = time.perf_counter()
    root = asc.Root.at(directory)
    with root.get_project(PROJECT) as p, p.get_client(CLIENT) as c, c.new_round("loss"):
        pass
    root.close()
    share = [n_trials // workers + (i < n_trials % workers) for i in range(workers)]
    procs = [
        subprocess.Popen([sys.executable, __file__, "--add", str(directory), str(n), str(seed)])
        for seed, n in enumerate(share)
    ]
    if any(proc.wait() for proc in procs):
        raise RuntimeError("a writer failed")
    return time.perf_counter() - start


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as response:
        return bytes(response.read())


def ms(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1e3


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f} / {statistics.median(values):,.0f} / {max(values):,.0f}"


def start_server(directory: Path) -> tuple[subprocess.Popen[str], str, dict[str, float]]:
    """Start ``arrowscope ui``; returns it, its URL and the start-up times (ms)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "arrowscope.cli", "ui", str(directory), "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    found = re.search(r"http://\S+", proc.stdout.readline())
    assert found is not None
    url = found.group(0).rstrip("/")
    times = {"URL printed": (time.perf_counter() - start) * 1e3}
    get(url + "/")
    times["first page (HTML)"] = (time.perf_counter() - start) * 1e3
    get(url + "/api/home")
    times["home page data"] = (time.perf_counter() - start) * 1e3
    return proc, url, times


def measure_http(url: str, directory: Path, n_trials: int, repeat: int) -> dict[str, list[float]]:
    query = f"project={PROJECT}&client={CLIENT}&round=0"
    out: dict[str, list[float]] = {}
    out["round data, first ask"] = [ms(lambda: get(f"{url}/api/round?{query}"))]
    out["round data, warm"] = [ms(lambda: get(f"{url}/api/round?{query}")) for _ in range(repeat)]
    rng = random.Random(1)

    def five_trials() -> bytes:
        chosen = ",".join(str(rng.randrange(n_trials)) for _ in range(5))
        return get(f"{url}/api/curves?{query}&metric=loss&phase=valid&trials={chosen}")

    out["curves of 5 new trials"] = [ms(five_trials) for _ in range(repeat)]
    changed = []
    for i in range(min(repeat, 3)):
        version = json.loads(get(f"{url}/api/status"))["version"]
        add_trials(directory, 1, seed=100 + i)
        start = time.perf_counter()
        while json.loads(get(f"{url}/api/status"))["version"] == version:
            time.sleep(0.02)
        get(f"{url}/api/round?{query}")
        changed.append((time.perf_counter() - start) * 1e3)
    out["round data after a new trial (refresh + recompute)"] = changed
    return out


def measure_browser(url: str, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    fragment = f"/#/round?project={PROJECT}&client={CLIENT}&round=0"
    arrived, shown, drawn = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        for _ in range(repeat + 1):  # the first load warms the browser's own caches
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + fragment)
            page.wait_for_selector("#main[data-ready=true]", timeout=600_000)
            timing = page.evaluate(
                "({ready: performance.now(), round: performance.getEntriesByType('resource')"
                ".filter(e => e.name.includes('/api/round?')).map(e => e.responseEnd)[0]})"
            )
            page.locator("#curves").scroll_into_view_if_needed()
            page.wait_for_selector("#curves[data-drawn]", timeout=600_000)
            arrived.append(timing["round"])
            shown.append(timing["ready"])
            drawn.append(page.evaluate("performance.now()"))
            page.close()
        browser.close()
    return {
        "browser: navigation → round data arrived": arrived[1:],
        "browser: navigation → trial table shown": shown[1:],
        "browser: … → best trials' curves drawn (scrolled to)": drawn[1:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2, help="writer processes for the build")
    parser.add_argument("--dir", type=Path, help="reuse (or build once into) this directory")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    SCRATCH.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        directory = args.dir or Path(tmp) / "runs"
        n_values = args.trials * SPLITS * EPOCHS
        if not (directory / "metrics").exists():
            seconds = build(directory, args.trials, args.workers)
            print(f"built {n_values:,} values in {seconds:.0f} s")
        proc, url, startup = start_server(directory)
        try:
            results = {k: [v] for k, v in startup.items()}
            results.update(measure_http(url, directory, args.trials, args.repeat))
            if not args.no_browser:
                try:
                    results.update(measure_browser(url, args.repeat))
                except Exception as exc:  # the HTTP figures are still worth printing
                    print(f"browser measures failed: {exc}", file=sys.stderr)
        finally:
            proc.terminate()
            proc.wait()
    print(f"\n{args.trials:,} trials × {SPLITS} splits × {EPOCHS} epochs = {n_values:,} values\n")
    print("| measure | ms (min / median / max) | repeats |")
    print("|---|---:|---:|")
    for name, values in results.items():
        print(f"| {name} | {spread(values)} | {len(values)} |")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--add":
        add_trials(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
