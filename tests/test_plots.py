"""``arrowscope.plots``: figures drawn from the views' frames, saved as PNG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import arrowscope
from _rounds import RoundWriter, split
from arrowscope.plots import plot_hyperparameter_scatter, plot_learning_curves
from arrowscope.query import QuerySession, connect
from arrowscope.store import Repository

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def repo() -> Repository:
    root = arrowscope.Root.in_memory()
    rnd = RoundWriter(root, ("p", "c"), "mse")
    rnd.trial({"lr": 0.5, "act": "relu"}, [split([0.5, 0.25], more={"acc": ([0.5], True)})])
    rnd.trial({"lr": 0.001, "act": "tanh"}, [split([1.0, 0.75, 0.5]), split([0.75])])
    rnd.trial({"lr": 0.25, "act": "relu"}, [split([2.0])], error=ValueError("x"))
    RoundWriter(root, ("p", "c"), "mse").trial({"lr": 0.1}, [split([0.5])])
    return root.repository


def curves(repo: Repository, round_number: int = 0) -> pl.DataFrame:
    return QuerySession(repo).fetch("select * from curves where round = $1", [round_number]).pl()


def test_learning_curves_one_panel_per_metric(repo: Repository, tmp_path: Path) -> None:
    figure = plot_learning_curves(curves(repo), title="round 0")
    assert [a.get_title() for a in figure.axes] == ["acc", "mse"]
    mse = figure.axes[1]
    labels = [line.get_label() for line in mse.get_lines()]
    assert labels == [f"trial {t} ({p})" for t in (0, 1, 2) for p in ("valid", "train")]
    styles = {line.get_label(): line.get_linestyle() for line in mse.get_lines()}
    assert styles["trial 0 (valid)"] == "-" and styles["trial 0 (train)"] == "--"
    trial_1 = next(line for line in mse.get_lines() if line.get_label() == "trial 1 (valid)")
    assert list(trial_1.get_xdata()) == [1, 2, 3]
    assert list(trial_1.get_ydata()) == [0.875, 0.75, 0.5]  # mean over the splits reaching it
    path = tmp_path / "curves.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_learning_curves_of_chosen_trials_and_metric(repo: Repository) -> None:
    figure = plot_learning_curves(curves(repo), trials=[1], metric="mse")
    assert len(figure.axes) == 1
    assert [line.get_label() for line in figure.axes[0].get_lines()] == [
        "trial 1 (valid)",
        "trial 1 (train)",
    ]
    with pytest.raises(ValueError, match="no curve"):
        plot_learning_curves(curves(repo), trials=[9])


def test_learning_curves_from_a_connection(repo: Repository) -> None:
    con = connect(repo)
    figure = plot_learning_curves(con, project="p", client="c", round=1)
    assert [line.get_label() for line in figure.axes[0].get_lines()] == [
        "trial 0 (valid)",
        "trial 0 (train)",
    ]
    with pytest.raises(ValueError, match="several rounds"):
        plot_learning_curves(con)


def test_learning_curves_need_the_curves_columns() -> None:
    with pytest.raises(ValueError, match="missing: trial"):
        plot_learning_curves(pl.DataFrame({"epoch": [1], "value": [0.5]}))


def test_scatter_from_a_wide_frame(tmp_path: Path) -> None:
    frame = pl.DataFrame({"lr": [0.001, 0.01, 0.1, 1.0], "score": [0.5, 0.25, None, float("nan")]})
    figure = plot_hyperparameter_scatter(frame, "lr")
    (axes,) = figure.axes
    assert len(axes.collections[0].get_offsets()) == 2  # trials without a finite score left out
    assert axes.get_xscale() == "linear"
    assert plot_hyperparameter_scatter(frame, "lr", log_x=True).axes[0].get_xscale() == "log"
    path = tmp_path / "scatter.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_scatter_from_the_params_view(repo: Repository) -> None:
    frame = (
        QuerySession(repo)
        .fetch(
            "select p.*, t.score from params p "
            "join trials t using (project, client, round, trial) where round = 0"
        )
        .pl()
    )
    numeric = plot_hyperparameter_scatter(frame, "lr").axes[0]
    assert sorted(map(tuple, numeric.collections[0].get_offsets().tolist())) == [
        (0.001, 0.625),
        (0.5, 0.25),
    ]
    assert numeric.get_xscale() == "log"  # positive values over more than two decades
    text = plot_hyperparameter_scatter(frame, "act").axes[0]
    assert [t.get_text() for t in text.get_xticklabels()] == ["relu", "tanh"]


def test_scatter_needs_values_and_scores() -> None:
    frame = pl.DataFrame(
        {"lr": [0.1], "score": [None]}, schema={"lr": pl.Float64, "score": pl.Float64}
    )
    with pytest.raises(ValueError, match="finite score"):
        plot_hyperparameter_scatter(frame, "lr")
    with pytest.raises(ValueError, match="no hyperparameter 'depth'"):
        plot_hyperparameter_scatter(frame, "depth")
    with pytest.raises(ValueError, match="no 'loss' column"):
        plot_hyperparameter_scatter(frame, "lr", score="loss")


def test_a_clear_message_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'arrowscope\[plot\]'"):
        plot_learning_curves(pl.DataFrame({"trial": [0]}))
    with pytest.raises(ImportError, match=r"arrowscope\[plot\]"):
        plot_hyperparameter_scatter(pl.DataFrame({"x": [1.0], "score": [1.0]}), "x")


def test_importing_plots_does_not_need_matplotlib() -> None:
    src = Path(arrowscope.__file__).resolve().parents[1]
    code = (
        "import sys; sys.modules['matplotlib'] = None; import arrowscope.plots; "
        "print('matplotlib' in sys.modules and sys.modules['matplotlib'] is not None)"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
