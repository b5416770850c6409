"""``arrowscope importance``, ``best --rank``, ``demo --optimizer tpe`` and the importance plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

import arrowscope as asc  # noqa: E402
from arrowscope import cli  # noqa: E402
from arrowscope.plots import plot_hyperparameter_importance  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tpe_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs")
    assert cli.main(["demo", "--dir", str(path), "--trials", "8", "--optimizer", "tpe"]) == 0
    return path


def test_demo_with_tpe_writes_its_round(tpe_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = asc.connect(tpe_demo)
    assert db.sql("select count(*) from trials where status = 'SUCCESS'").fetchall() == [(8,)]


def test_importance_command(tpe_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli.main(["importance", str(tpe_demo), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["name"] for r in rows) == ["l2", "lr", "scaling"]
    assert sum(r["importance"] for r in rows) == pytest.approx(1.0)
    png = tpe_demo / "importance.png"
    assert (
        cli.main(["importance", str(tpe_demo), "--evaluator", "ped-anova", "--png", str(png)]) == 0
    )
    assert png.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize("rank", ["last", "mean"])
def test_best_by_another_rule(
    tpe_demo: Path, rank: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["best", str(tpe_demo), "--rank", rank, "--top", "8", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    report = asc.Root.at(tpe_demo)["demo"]["logistic_regression"][0]
    expected = report.ranked_trials(rank=rank)
    assert [r["trial"] for r in rows] == expected["trial"].to_list()
    assert [r["score"] for r in rows] == pytest.approx(expected["score"].to_list())


def test_importance_plot_refuses_an_empty_frame() -> None:
    import polars as pl

    with pytest.raises(ValueError, match="no row"):
        plot_hyperparameter_importance(pl.DataFrame({"name": [], "importance": []}))
