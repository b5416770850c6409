"""``arrowscope demo``: a small, complete hyperparameter search written with numpy only.

A logistic regression, trained by full-batch gradient descent, is searched over its
learning rate, L2 penalty and feature scaling on a seeded synthetic binary
classification dataset: ``n_trials`` trials × 3 folds (k-fold) × 20 epochs, logging the
train and validation log-loss (the main metric, lower is better) and accuracy of every
epoch. The best trial is then refitted on all of the data. Everything lands in a
Parquet data directory, and the demo prints the best trials, where the data is, and a
query to paste.

Example:
    >>> import io, tempfile
    >>> out = io.StringIO()
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     run_demo(directory, n_trials=2, out=out)
    >>> "Best trials" in out.getvalue()
    True
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from arrowscope.aggregates import Root
    from arrowscope.automl import AutoML
    from arrowscope.hyperparams import (
        HyperparameterOptimizer,
        HyperparameterSamples,
        HyperparameterSpace,
    )

    Array = npt.NDArray[np.float64]

__all__ = [
    "DEMO_HELP",
    "LogisticRegression",
    "demo_arguments",
    "make_dataset",
    "run_demo",
    "run_demo_command",
]

PROJECT = "demo"
CLIENT = "logistic_regression"
EPOCHS = 20
FOLDS = 3
N_SAMPLES = 600
N_FEATURES = 8
DEFAULT_DIR = "./arrowscope-runs"
# Feature scales: unscaled, the large ones make plain gradient descent oscillate.
_SCALES = (1.0, 10.0, 0.1, 5.0, 1.0, 30.0, 1.0, 0.5)


@functools.cache
def search_space() -> HyperparameterSpace:
    """The demo's search space: learning rate, L2 penalty and feature scaling."""
    # Built on first use, like every import of this module but argparse's: the
    # ``arrowscope`` command imports it for its arguments only.
    from arrowscope.hyperparams import Choice, HyperparameterSpace, LogUniform

    return HyperparameterSpace(
        {
            "lr": LogUniform(1e-3, 1.0),
            "l2": LogUniform(1e-5, 1e-1),
            "scaling": Choice(["standard", "none"]),
        }
    )


def make_dataset(seed: int = 0) -> tuple[Array, Array]:
    """A seeded binary classification set: ``x`` of shape (600, 8) and 0/1 labels ``y``.

    Labels follow a logistic model of the features, with noise, so that no model is
    perfect; the features have very different scales.
    """
    import numpy as np

    scales = np.array(_SCALES)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_SAMPLES, N_FEATURES)) * scales
    weights = rng.normal(size=N_FEATURES) / scales
    logits = x @ weights + 0.5 * rng.normal(size=N_SAMPLES)
    y = (rng.random(N_SAMPLES) < _sigmoid(logits)).astype(np.float64)
    return x, y


def _sigmoid(z: Array) -> Array:
    import numpy as np

    # tanh form: exact, and never overflows for large |z|.
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)


class LogisticRegression:
    """Binary logistic regression; each ``fit`` call is one epoch of gradient descent.

    Implements the :class:`~arrowscope.automl.Pipeline` protocol. ``predict`` returns
    the probability of the positive class.

    Args:
        steps_per_epoch: Full-batch gradient steps per ``fit`` call.
    """

    def __init__(self, steps_per_epoch: int = 5) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.lr, self.l2, self.scaling = 0.1, 0.0, "standard"
        self.weights: Array | None = None
        self.bias = 0.0
        self.center: Array | float = 0.0
        self.scale: Array | float = 1.0

    def get_hyperparams_space(self) -> HyperparameterSpace:
        return search_space()

    def set_hyperparams(self, hyperparams: HyperparameterSamples) -> LogisticRegression:
        self.lr = float(hyperparams["lr"])
        self.l2 = float(hyperparams["l2"])
        self.scaling = str(hyperparams["scaling"])
        return self

    def fit(self, x: Array, y: Array) -> LogisticRegression:
        import numpy as np

        if self.weights is None:  # first epoch: learn the scaling, start from zero
            if self.scaling == "standard":
                self.center, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-12
            self.weights = np.zeros(x.shape[1])
        xs = (x - self.center) / self.scale
        for _ in range(self.steps_per_epoch):
            error = _sigmoid(xs @ self.weights + self.bias) - y
            self.weights = self.weights - self.lr * (xs.T @ error / len(y) + self.l2 * self.weights)
            self.bias -= self.lr * float(error.mean())
        return self

    def predict(self, x: Array) -> Array:
        if self.weights is None:
            raise ValueError("LogisticRegression.predict: call fit(x, y) first")
        return _sigmoid((x - self.center) / self.scale @ self.weights + self.bias)


def log_loss(y_true: Array, y_pred: Array) -> float:
    """Mean binary cross-entropy of probabilities ``y_pred`` (clipped away from 0 and 1)."""
    import numpy as np

    p = np.clip(y_pred, 1e-12, 1.0 - 1e-12)
    return float(-np.mean(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)))


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Share of labels matched by thresholding the probabilities at 0.5."""
    import numpy as np

    return float(np.mean((y_pred >= 0.5) == (y_true >= 0.5)))


def run_demo(
    directory: str | os.PathLike[str],
    n_trials: int = 20,
    seed: int = 0,
    out: TextIO | None = None,
    optimizer: str = "random",
) -> None:
    """Run the demo search into ``directory`` and print a short report to ``out``.

    Writes one new round of project ``demo``, client ``logistic_regression`` into the
    Parquet data directory ``directory`` (created if missing; earlier rounds are kept).

    Args:
        directory: The data directory.
        n_trials: Trials to run (>= 1).
        seed: Seeds the dataset and the search.
        out: Where the report goes; ``sys.stdout`` by default.
        optimizer: ``"random"`` (``RandomSearch``) or ``"tpe"`` (Optuna's TPE through
            ``arrowscope.optuna.OptunaSearch``; needs the optuna extra).

    Raises:
        ValueError: ``n_trials`` is not an int >= 1, or an unknown optimizer.
        ImportError: numpy (or, for ``"tpe"``, optuna) is not installed.
    """
    try:
        importlib.import_module("numpy")
    except ImportError as exc:
        raise ImportError("the demo needs numpy: pip install 'arrowscope[demo]'") from exc
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise ValueError(f"run_demo(n_trials={n_trials!r}): expected an int >= 1")
    search = _optimizer(optimizer, seed)
    out = sys.stdout if out is None else out
    path = Path(directory).resolve()
    out.write(
        f"arrowscope demo: {n_trials} trials x {FOLDS} folds x {EPOCHS} epochs of a numpy "
        f"logistic regression on {N_SAMPLES} synthetic samples (seed {seed}, "
        f"{optimizer} search)\n"
    )
    started = time.monotonic()
    from arrowscope.aggregates import Root

    root = Root.at(path)
    try:
        result = _search(root, n_trials, search).fit(make_dataset(seed))
    finally:
        root.close()
    out.write(f"finished in {time.monotonic() - started:.1f} s\n\n")
    _print_report(out, path, result.round_number, result.best_trial_number)


OPTIMIZERS = ("random", "tpe")


def _optimizer(name: str, seed: int) -> HyperparameterOptimizer:
    if name == "random":
        from arrowscope.optimizer import RandomSearch

        return RandomSearch(seed)
    if name == "tpe":
        try:
            import optuna
        except ImportError as exc:
            raise ImportError(
                "the demo's TPE search needs Optuna: pip install 'arrowscope[optuna]'"
            ) from exc
        from arrowscope.optuna import OptunaSearch

        return OptunaSearch(optuna.samplers.TPESampler(seed=seed, constant_liar=True))
    raise ValueError(f"optimizer={name!r}: expected one of {', '.join(OPTIMIZERS)}")


def _search(root: Root, n_trials: int, optimizer: HyperparameterOptimizer) -> AutoML:
    from arrowscope.automl import AutoML, KFoldCrossValidationSplitter, MetricCallback

    return AutoML(
        LogisticRegression(),
        root=root,
        project_name=PROJECT,
        client_name=CLIENT,
        optimizer=optimizer,
        n_trials=n_trials,
        epochs=EPOCHS,
        splitter=KFoldCrossValidationSplitter(FOLDS),
        callbacks=[
            MetricCallback("log_loss", log_loss, higher_score_is_better=False),
            MetricCallback("accuracy", accuracy, higher_score_is_better=True),
        ],
    )


_BEST_SQL = """
    select trial, score, n_epochs_to_best, hyperparams
    from trials
    where project = ? and client = ? and round = ? and status = 'SUCCESS' and score is not null
    order by score, trial
    limit 5
"""


def _print_report(out: TextIO, path: Path, round_number: int, refitted: int | None) -> None:
    from arrowscope.query import connect

    con = connect(path)
    try:
        rows = con.execute(_BEST_SQL, [PROJECT, CLIENT, round_number]).fetchall()
    finally:
        con.close()
    out.write(f"Best trials of round {round_number} (log_loss, lower is better):\n")
    header = ["trial", "log_loss", "epochs to best", *search_space()]
    table = [[str(r[0]), f"{r[1]:.4f}", f"{r[2]:.1f}", *_hyperparam_cells(r[3])] for r in rows]
    out.write(_format_table(header, table))
    if refitted is not None:
        out.write(f"Trial {refitted} was refitted on all {N_SAMPLES} samples (split -1).\n")
    quoted = shlex.quote(str(path))
    query = (
        "select trial, round(score, 4) as log_loss, hyperparams from trials "
        f"where project = '{PROJECT}' and round = {round_number} order by score limit 5"
    )
    out.write(
        f"\nData: {path}\n"
        "  Parquet files, hive-partitioned by project/client/round: metrics/ (one row per "
        "value), events/ (status changes), catalog/\n"
        f'\nTry:\n  arrowscope sql {quoted} "{query}"\n'
    )


def _hyperparam_cells(text: str | None) -> list[str]:
    from arrowscope.hyperparams import HyperparameterSamples

    values = HyperparameterSamples.from_json(text).to_flat_dict() if text else {}
    return [_cell(values.get(key)) for key in search_space()]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in lines
    )


# -- the ``demo`` subcommand ---------------------------------------------------------
DEMO_HELP = "run a small example search (numpy logistic regression) and print its report"


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--dir``, ``--trials``, ``--seed`` and ``--optimizer`` on ``parser``."""
    parser.add_argument(
        "--dir", default=DEFAULT_DIR, metavar="DIR", help=f"data directory (default {DEFAULT_DIR})"
    )
    parser.add_argument(
        "--trials", type=_positive_int, default=20, metavar="N", help="trials (default 20)"
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed (default 0)")
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="random",
        help="random search (default) or Optuna's TPE (needs the optuna extra)",
    )


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo from parsed ``demo`` arguments; returns the exit code 0."""
    run_demo(args.dir, n_trials=args.trials, seed=args.seed, optimizer=args.optimizer)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
