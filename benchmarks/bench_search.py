"""Search quality and proposal cost: random, grid, TPE and CMA-ES side by side, one run.

Problems: Branin (2-D) and Hartmann-6 (6-D), both minimized, one split of one epoch per
trial; and a real model: scikit-learn's ``SGDClassifier`` on its bundled breast-cancer
dataset, trained epoch by epoch (``partial_fit``) through ``AutoML`` with 3-fold
k-fold splits, scored by validation log-loss. Each (problem, optimizer) runs 100 trials
for each of 5 seeds; the table gives the median over seeds of the best score after 30,
60 and 100 trials, with the min-max over seeds. On the real model, TPE also runs with a
median pruner: epochs trained and the best score, against TPE alone.

The proposal cost: a round with N finished trials (100 and 10,000) is resumed by a
fresh ``OptunaSearch(TPESampler)``; the first proposal reads the whole round, then
each proposal after one more finished trial reads only what changed. The time
arrowscope adds (reading the store, updating the study) is set against the time
Optuna's sampler takes to ask.

Run: ``make bench-search`` (installs the ``bench`` extra), or
``python benchmarks/bench_search.py --out benchmarks/RESULTS.md`` which replaces the
search section of that file. ``--quick`` runs a small version for a smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import arrowscope as asc
from report import write_section

BEGIN, END = "<!-- bench_search: begin -->", "<!-- bench_search: end -->"
SEEDS = (0, 1, 2, 3, 4)
CHECKPOINTS = (30, 60, 100)
EPOCHS, FOLDS = 10, 3

# -- problems ----------------------------------------------------------------------
BRANIN = asc.HyperparameterSpace({"x1": asc.Uniform(-5.0, 10.0), "x2": asc.Uniform(0.0, 15.0)})
HARTMANN = asc.HyperparameterSpace({f"x{i}": asc.Uniform(0.0, 1.0) for i in range(6)})
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def branin(hps: Any) -> float:
    x1, x2 = hps["x1"], hps["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def hartmann6(hps: Any) -> float:
    x = np.array([hps[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1))))


FUNCTIONS: dict[str, tuple[asc.HyperparameterSpace, Callable[[Any], float]]] = {
    "Branin (min 0.398)": (BRANIN, branin),
    "Hartmann-6 (min -3.322)": (HARTMANN, hartmann6),
}
MODEL = "SGDClassifier, breast cancer, 3-fold (log-loss)"
SGD_SPACE = asc.HyperparameterSpace(
    {
        "alpha": asc.LogUniform(1e-6, 1e-1),
        "eta0": asc.LogUniform(1e-4, 1.0),
        "learning_rate": asc.Choice(["constant", "invscaling", "adaptive"]),
        "l1_ratio": asc.Uniform(0.0, 1.0),
    }
)


class SGDPipeline:
    """An elastic-net logistic regression trained one ``partial_fit`` pass per epoch."""

    def __init__(self) -> None:
        self.hps: dict[str, Any] = {}
        self.model: Any = None
        self.scaler: Any = None
        self.scaled: dict[int, Any] = {}  # id(x) -> x scaled: the same arrays every epoch

    def get_hyperparams_space(self) -> asc.HyperparameterSpace:
        return SGD_SPACE

    def set_hyperparams(self, hps: Any) -> SGDPipeline:
        self.hps = dict(hps)
        return self

    def fit(self, x: Any, y: Any) -> SGDPipeline:
        import sklearn
        from sklearn.linear_model import SGDClassifier
        from sklearn.preprocessing import StandardScaler

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            if self.model is None:
                self.scaler = StandardScaler().fit(x)
                self.model = SGDClassifier(
                    loss="log_loss", penalty="elasticnet", random_state=0, **self.hps
                )
            self.model.partial_fit(self._scaled(x), y, classes=np.array([0.0, 1.0]))
        return self

    def predict(self, x: Any) -> Any:
        import sklearn

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self.model.predict_proba(self._scaled(x))[:, 1]

    def _scaled(self, x: Any) -> Any:
        if id(x) not in self.scaled:
            self.scaled[id(x)] = (x, self.scaler.transform(x))
        return self.scaled[id(x)][1]


def log_loss(y: Any, p: Any) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def cancer_data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))  # the splitters do not shuffle
    return x[order], y[order].astype(float)


# -- optimizers ----------------------------------------------------------------------
def optimizer(name: str, seed: int) -> Any:
    import optuna

    from arrowscope.optuna import OptunaSearch

    if name == "random":
        return asc.RandomSearch(seed)
    if name == "grid":
        return asc.GridSearch(expected_n_trials=max(CHECKPOINTS), seed=seed)
    if name == "tpe":
        return OptunaSearch(optuna.samplers.TPESampler(seed=seed))
    if name == "cmaes":
        return OptunaSearch(optuna.samplers.CmaEsSampler(seed=seed))
    raise ValueError(name)


OPTIMIZERS = ("random", "grid", "tpe", "cmaes")


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    logging.getLogger("arrowscope").setLevel(logging.ERROR)


def run_function(problem: str, name: str, seed: int, n_trials: int) -> list[float]:
    """Best score after each trial of one search."""
    _quiet()
    space, fn = FUNCTIONS[problem]
    best, out = math.inf, []
    with tempfile.TemporaryDirectory() as directory:
        root = asc.Root.at(directory)
        with root.default_project() as p, p.default_client() as c, c.new_round("f") as rnd:
            rnd.with_optimizer(optimizer(name, seed), space)
            for _ in range(n_trials):
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    value = fn(trial.get_hyperparams())
                    with split.managed_metric("f", higher_score_is_better=False) as m:
                        m.add_valid_result(value)
                best = min(best, value)
                out.append(best)
        root.close()
    return out


def run_model(name: str, seed: int, n_trials: int, prune: bool) -> tuple[list[float], int]:
    """Best score after each trial, and the epochs trained, of one AutoML search."""
    import optuna

    from arrowscope.automl import AutoML, KFoldCrossValidationSplitter, MetricCallback
    from arrowscope.optuna import PruningCallback

    _quiet()
    callbacks: list[Any] = [MetricCallback("log_loss", log_loss, higher_score_is_better=False)]
    if prune:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
        callbacks.append(PruningCallback(pruner))
    with tempfile.TemporaryDirectory() as directory:
        root = asc.Root.at(directory)
        automl = AutoML(
            SGDPipeline(),
            root=root,
            optimizer=optimizer(name, seed),
            n_trials=n_trials,
            epochs=EPOCHS,
            splitter=KFoldCrossValidationSplitter(FOLDS),
            callbacks=callbacks,
            refit_best_trial=False,
            show_progress=False,
        )
        result = automl.fit(cancer_data())
        scores = {t: s for s, t, _st, _h in result.report.summary()}
        root.close()
        db = asc.connect(directory)
        epochs = db.sql("select count(*) from metrics where phase = 'valid'").fetchall()[0][0]
        db.close()
    best, out = math.inf, []
    for trial in range(n_trials):
        score = scores.get(trial)
        if score is not None and math.isfinite(score):
            best = min(best, score)
        out.append(best)
    return out, int(epochs)


# -- proposal cost ---------------------------------------------------------------------
def proposal_cost(n_finished: int, repeats: int) -> dict[str, Any]:
    """Cold and incremental proposal times of OptunaSearch(TPE) on a round of n trials."""
    import optuna

    from arrowscope.optuna import OptunaSearch

    _quiet()

    class Timed(OptunaSearch):
        def __init__(self, sampler: Any) -> None:
            super().__init__(sampler)
            self.total: list[float] = []
            self.ask: list[float] = []

        def find_next_best_hyperparams(self, report: Any, space: Any) -> Any:
            start = time.perf_counter()
            out = super().find_next_best_hyperparams(report, space)
            self.total.append(time.perf_counter() - start)
            return out

        def _ask(self, space: Any) -> Any:
            start = time.perf_counter()
            out = super()._ask(space)
            self.ask.append(time.perf_counter() - start)
            return out

    def one_trial(rnd: asc.Round) -> None:
        with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
            with split.managed_metric("f", higher_score_is_better=False) as m:
                m.add_valid_result(branin(trial.get_hyperparams()))

    with tempfile.TemporaryDirectory() as directory:
        root = asc.Root.at(directory)
        build_start = time.perf_counter()
        with root.default_project() as p, p.default_client() as c, c.new_round("f") as rnd:
            rnd.with_optimizer(asc.RandomSearch(0), BRANIN)
            for _ in range(n_finished):
                one_trial(rnd)
        build = time.perf_counter() - build_start
        root.close()
        root = asc.Root.at(directory)
        search = Timed(optuna.samplers.TPESampler(seed=0))
        with root.default_project() as p, p.default_client() as c:
            with c.resume_last_round() as rnd:
                rnd.with_optimizer(search, BRANIN)
                for _ in range(repeats + 1):
                    one_trial(rnd)
        root.close()
    overhead = [t - a for t, a in zip(search.total, search.ask, strict=True)]
    return {
        "n": n_finished,
        "build_s": build,
        "cold_overhead": overhead[0],
        "cold_ask": search.ask[0],
        "overhead": overhead[1:],
        "ask": search.ask[1:],
    }


# -- report ------------------------------------------------------------------------------
def _spread(values: list[float], fmt: str = "{:.3f}") -> str:
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def _row(label: str, epochs: list[float], best: list[float]) -> str:
    return f"| {label} | {_spread(epochs, '{:.0f}')} | {_spread(best)} |"


def _ms(values: list[float]) -> str:
    return _spread([v * 1000 for v in values], "{:.1f}")


def report(
    quality: dict[tuple[str, str], list[list[float]]],
    pruning: dict[str, Any],
    costs: list[dict[str, Any]],
    meta: dict[str, Any],
) -> str:
    lines = [
        BEGIN,
        "## Search quality and proposal cost (`benchmarks/bench_search.py`)",
        "",
        f"Written on {meta['date']}; {meta['machine']}; "
        f"the search part took {meta['seconds']:.0f} s.",
        f"Each cell: median over seeds {list(meta['seeds'])} of the best score after that many "
        "trials (lower is better), then min–max over the seeds.",
        "",
    ]
    problems = list(dict.fromkeys(p for p, _o in quality))
    for problem in problems:
        lines += [
            f"### {problem}",
            "",
            "| optimizer | " + " | ".join(f"{n} trials" for n in meta["checkpoints"]) + " |",
            "|---|" + "---:|" * len(meta["checkpoints"]),
        ]
        for name in OPTIMIZERS:
            runs = quality.get((problem, name))
            if not runs:
                continue
            cells = [_spread([run[n - 1] for run in runs]) for n in meta["checkpoints"]]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if pruning:
        n = meta["checkpoints"][-1]
        lines += [
            "### Pruning: TPE with `MedianPruner(n_startup_trials=5, n_warmup_steps=2)`, " + MODEL,
            "",
            f"| | epochs trained ({n} trials × {FOLDS} folds × up to {EPOCHS}) "
            f"| best after {n} trials |",
            "|---|---:|---:|",
            _row("TPE", pruning["plain_epochs"], pruning["plain_best"]),
            _row("TPE + pruning", pruning["pruned_epochs"], pruning["pruned_best"]),
            "",
            f"Epochs saved: {_spread(pruning['saved'], '{:.0%}')}; score lost (best with pruning − "
            f"best without, same seed): {_spread(pruning['lost'], '{:+.4f}')}.",
            "",
        ]
    lines += [
        "### Time per proposal, `OptunaSearch(TPESampler)` on a resumed round",
        "",
        "arrowscope's part: reading what changed in the store and updating the study; "
        "Optuna's part: `study.ask`. Incremental: after one more finished trial, "
        f"median (min–max) of {meta['repeats']} proposals, in ms.",
        "",
        "| finished trials | arrowscope, incremental | Optuna's TPE ask "
        "| arrowscope, first proposal (reads the whole round) | Optuna ask, first proposal |",
        "|---:|---:|---:|---:|---:|",
    ]
    for cost in costs:
        lines.append(
            f"| {cost['n']:,} | {_ms(cost['overhead'])} | {_ms(cost['ask'])} | "
            f"{cost['cold_overhead'] * 1000:.0f} | {cost['cold_ask'] * 1000:.0f} |"
        )
    lines += ["", END, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="replace the search section of this file")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 12 trials, 300 finished")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the searches")
    args = parser.parse_args()
    seeds = SEEDS[:2] if args.quick else SEEDS
    checkpoints = (4, 8, 12) if args.quick else CHECKPOINTS
    n_trials = checkpoints[-1]
    sizes = (100, 300) if args.quick else (100, 10_000)
    started = time.perf_counter()
    quality: dict[tuple[str, str], list[list[float]]] = {}
    pruning: dict[str, Any] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = {
            (problem, name, seed): pool.submit(run_function, problem, name, seed, n_trials)
            for problem in FUNCTIONS
            for name in OPTIMIZERS
            for seed in seeds
        }
        model_jobs = {
            (name, seed, prune): pool.submit(run_model, name, seed, n_trials, prune)
            for name in OPTIMIZERS
            for seed in seeds
            for prune in (False, True)
            if not prune or name == "tpe"
        }
        for (problem, name, _seed), job in jobs.items():
            quality.setdefault((problem, name), []).append(job.result())
        for (name, _seed, prune), job in model_jobs.items():
            curve, epochs = job.result()
            if not prune:
                quality.setdefault((MODEL, name), []).append(curve)
            pruning.setdefault("pruned" if prune else name, []).append((curve[-1], epochs))
    plain, pruned = pruning.pop("tpe"), pruning.pop("pruned")
    summary = {
        "plain_epochs": [e for _b, e in plain],
        "pruned_epochs": [e for _b, e in pruned],
        "plain_best": [b for b, _e in plain],
        "pruned_best": [b for b, _e in pruned],
        "saved": [1 - p[1] / q[1] for p, q in zip(pruned, plain, strict=True)],
        "lost": [p[0] - q[0] for p, q in zip(pruned, plain, strict=True)],
    }
    seconds = time.perf_counter() - started
    repeats = 5 if args.quick else 9
    costs = [proposal_cost(n, repeats) for n in sizes]
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {args.jobs} searches at a time",
        "seconds": seconds,
        "seeds": seeds,
        "checkpoints": checkpoints,
        "repeats": repeats,
    }
    section = report(quality, summary, costs, meta)
    print(section)
    if args.out is not None:
        write_section(args.out, section, BEGIN, END)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
    sys.exit(0)
