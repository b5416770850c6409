"""Figures from the views: learning curves and hyperparameter-vs-score scatters.

matplotlib is an optional extra (``pip install 'arrowscope[plot]'``) imported
only when a figure is drawn, so ``import arrowscope.plots`` always works. The
functions build a ``matplotlib.figure.Figure`` without pyplot (no GUI backend,
no global state): save it with ``fig.savefig("curves.png")``, or let a
notebook display it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_hyperparameter_importance",
    "plot_hyperparameter_scatter",
    "plot_learning_curves",
]

_CURVE_COLUMNS = ("trial", "metric", "phase", "epoch", "value")
_PHASE_STYLES = {"valid": "-", "train": "--"}


def plot_learning_curves(
    data: pl.DataFrame | Any,
    *,
    trials: list[int] | None = None,
    metric: str | None = None,
    project: str | None = None,
    client: str | None = None,
    round: int | None = None,
    title: str | None = None,
) -> Figure:
    """Train and validation curves per epoch, one line per trial, one panel per metric.

    Args:
        data: rows of the ``curves`` view (at least trial, metric, phase,
            epoch, value: each value already the mean over the trial's
            splits), or a connection from ``arrowscope.connect`` whose
            ``curves`` are read (narrowed by ``project``/``client``/``round``,
            which must leave a single round).
        trials: only these trials (default: every trial in ``data``).
        metric: only this metric (default: one panel per metric).
        project, client, round: which round to read from a connection.
        title: the figure's title.

    Returns:
        The figure: valid values as solid lines, train values dashed, one
        colour per trial.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: the data has none of the requested curves, lacks the
            columns above, or spans several rounds.
    """
    figure_class = _figure_class()
    frame = _curves_frame(data, project, client, round)
    _require_columns(frame, _CURVE_COLUMNS, "plot_learning_curves")
    if trials is not None:
        frame = frame.filter(pl.col("trial").is_in(trials))
    if metric is not None:
        frame = frame.filter(pl.col("metric") == metric)
    if frame.is_empty():
        raise ValueError("no curve to plot: no row matches the requested trials and metric")
    _require_one_round(frame)
    metrics = sorted(frame["metric"].unique().to_list())
    figure = figure_class(figsize=(5.5 * len(metrics), 4), layout="constrained")
    axes_list = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axes, name in zip(axes_list, metrics, strict=True):
        _draw_metric(axes, frame.filter(pl.col("metric") == name), name)
    if title:
        figure.suptitle(title)
    return figure


def plot_hyperparameter_scatter(
    data: pl.DataFrame,
    hyperparameter: str,
    *,
    score: str = "score",
    log_x: bool | None = None,
    title: str | None = None,
) -> Figure:
    """One point per trial: a hyperparameter's value against the trial's score.

    Args:
        data: one row per trial with a ``hyperparameter`` column and a
            ``score`` column (a wide frame), or rows of the ``params`` view
            joined with the trials' scores (columns name, value, value_num and
            ``score``), e.g. ``select p.*, t.score from params p join trials t
            using (project, client, round, trial)``.
        hyperparameter: the flat key to put on the x axis (``opt__lr``).
        score: the column holding the score.
        log_x: a logarithmic x axis; by default when the values are positive
            and span more than two decades.
        title: the axes' title.

    Returns:
        The figure. Text values are placed on a categorical axis; trials
        without a finite score are left out.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: no trial has both a value and a finite score.
    """
    figure_class = _figure_class()
    x, y = _scatter_points(data, hyperparameter, score)
    figure = figure_class(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
        axes.scatter(x, y)
        positive = all(v > 0 for v in x)
        if log_x or (log_x is None and positive and max(x) / min(x) > 100):
            axes.set_xscale("log")
    else:
        labels = sorted({str(v) for v in x})
        position = {label: i for i, label in enumerate(labels)}
        axes.scatter([position[str(v)] for v in x], y)
        axes.set_xticks(range(len(labels)), labels)
    axes.set_xlabel(hyperparameter)
    axes.set_ylabel(score)
    axes.set_title(title or f"{score} by {hyperparameter}")
    axes.grid(True, alpha=0.3)
    return figure


def plot_hyperparameter_importance(data: pl.DataFrame, *, title: str | None = None) -> Figure:
    """Horizontal bars: each hyperparameter's share of the score's variance.

    Args:
        data: ``round.get_hyperparameter_importance()`` (columns ``name`` and
            ``importance``).
        title: the axes' title.

    Returns:
        The figure, the most important hyperparameter on top.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: the frame lacks the columns, or has no row.
    """
    figure_class = _figure_class()
    _require_columns(data, ("name", "importance"), "plot_hyperparameter_importance")
    if data.is_empty():
        raise ValueError("no importance to plot: the frame has no row")
    ranked = data.sort("importance")  # barh draws bottom-up: the largest ends on top
    figure = figure_class(figsize=(6, 1.2 + 0.4 * ranked.height), layout="constrained")
    axes = figure.subplots()
    axes.barh(ranked["name"].to_list(), ranked["importance"].to_list())
    axes.set_xlabel("importance (sums to 1)")
    axes.set_title(title or "hyperparameter importance")
    axes.grid(True, axis="x", alpha=0.3)
    return figure


def _figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "arrowscope's plots need matplotlib, an optional extra: pip install 'arrowscope[plot]'"
        ) from exc
    return Figure


def _curves_frame(
    data: pl.DataFrame | Any, project: str | None, client: str | None, round: int | None
) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    from arrowscope.query import run_query

    return run_query(data, "plot_curves", project=project, client=client, round=round).pl()


def _require_columns(frame: pl.DataFrame, columns: tuple[str, ...], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where} needs the columns {', '.join(columns)} (rows of the curves view); "
            f"missing: {', '.join(missing)}"
        )


def _require_one_round(frame: pl.DataFrame) -> None:
    keys = [c for c in ("project", "client", "round") if c in frame.columns]
    if keys and frame.select(keys).unique().height > 1:
        rounds = ", ".join("/".join(map(str, r)) for r in frame.select(keys).unique().rows())
        raise ValueError(
            f"the curves span several rounds ({rounds}); choose one with project, client, round"
        )


def _draw_metric(axes: Axes, frame: pl.DataFrame, metric: str) -> None:
    trials = sorted(frame["trial"].unique().to_list())
    for index, trial in enumerate(trials):
        colour = f"C{index % 10}"  # one colour per trial, shared by its two phases
        for phase, style in _PHASE_STYLES.items():
            curve = frame.filter((pl.col("trial") == trial) & (pl.col("phase") == phase))
            if curve.is_empty():
                continue
            curve = curve.sort("epoch")
            axes.plot(
                curve["epoch"].to_list(),
                curve["value"].to_list(),
                linestyle=style,
                color=colour,
                label=f"trial {trial} ({phase})",
            )
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    axes.set_title(metric)
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"{metric} (mean over splits)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")


def _scatter_points(
    data: pl.DataFrame, hyperparameter: str, score: str
) -> tuple[list[Any], list[float]]:
    if score not in data.columns:
        raise ValueError(f"the frame has no {score!r} column (columns: {', '.join(data.columns)})")
    if hyperparameter in data.columns:
        pairs = data.select(hyperparameter, score).rows()
    elif {"name", "value", "value_num"} <= set(data.columns):
        rows = data.filter(pl.col("name") == hyperparameter)
        pairs = [
            (num if num is not None else text, s)
            for text, num, s in rows.select("value", "value_num", score).rows()
        ]
    else:
        raise ValueError(
            f"no hyperparameter {hyperparameter!r}: the frame needs a {hyperparameter!r} column, "
            "or the params view's name, value and value_num columns"
        )
    kept = [
        (x, float(s))
        for x, s in pairs
        if x is not None and s is not None and math.isfinite(float(s))
    ]
    if not kept:
        raise ValueError(f"no trial has both a value of {hyperparameter!r} and a finite {score}")
    return [x for x, _ in kept], [s for _, s in kept]
