"""The app's data layer: answers per version of the data, the pages' JSON, its rules."""

from __future__ import annotations

import json
from pathlib import Path

import _ui_data as d
import pyarrow as pa
import pytest

import arrowscope as asc
from arrowscope.ui import encode, pages
from arrowscope.ui.live import LiveData, source_path
from arrowscope.ui.pages import RoundKey

KEY = RoundKey(d.PROJECT, d.CLIENT, 0)


@pytest.fixture(scope="module")
def data(ui_data: Path) -> LiveData:
    live = LiveData(ui_data)
    live.open()
    yield live
    live.close()


def test_bands_follow_the_curves_view_rule(data: LiveData) -> None:
    chosen = d.ranking()[:3]
    bands = json.loads(pages.curves(data, KEY, "acc", "valid", chosen).body)["trials"]
    view = data.query(
        "select trial, epoch, value, n_splits from curves where project = $1 and client = $2 "
        "and round = $3 and metric = 'acc' and phase = 'valid' and list_contains($4, trial) "
        "order by trial, epoch",
        [KEY.project, KEY.client, KEY.round, chosen],
    ).fetchall()
    from_bands = [
        (int(t), e, m, n)
        for t, band in sorted(bands.items(), key=lambda kv: int(kv[0]))
        for e, m, n in zip(band["epoch"], band["mean"], band["n_splits"], strict=True)
    ]
    assert from_bands == [pytest.approx(row) for row in view]
    for band in bands.values():
        triples = zip(band["low"], band["mean"], band["high"], strict=True)
        assert all(low <= mean <= high for low, mean, high in triples)


def test_round_json_ranks_and_lists_failures(data: LiveData) -> None:
    payload = json.loads(pages.round_page(data, KEY).body)
    assert payload["round"]["best_trial"] == d.ranking()[0]
    assert payload["selected"] == d.ranking()[:5]
    assert sorted(f["trial"] for f in payload["failures"]) == sorted(d.FAILING)
    assert all(f["error"] == f"ValueError: {d.HOSTILE_ERROR}" for f in payload["failures"])
    assert all("Traceback (most recent call last)" in f["traceback"] for f in payload["failures"])
    assert payload["curves"]["metric"] == "acc" and payload["curves"]["phase"] == "valid"
    assert [m["phase"] for m in payload["metrics"]] == ["train", "valid"]


def test_home_counts_trials_by_status(data: LiveData) -> None:
    rows = json.loads(pages.home(data).body)["rounds"]
    first = next(r for r in rows if r["client"] == d.CLIENT and r["round"] == 0)
    assert (first["n_trials"], first["n_success"], first["n_failed"]) == (12, 10, 2)
    assert first["last_activity_ms"] is not None


def test_answers_are_cached_per_version_and_change_with_the_data(tmp_path: Path) -> None:
    root = asc.Root.at(tmp_path)
    space = asc.HyperparameterSpace({"x": asc.Uniform(0, 1)})

    def one_trial() -> None:
        with root.get_project("p") as p, p.get_client("c") as c, c.resume_last_round() as rnd:
            rnd.with_optimizer(asc.RandomSearch(seed=0), space)
            with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                with split.managed_metric("m", higher_score_is_better=True) as m:
                    m.add_valid_result(0.5)

    one_trial()
    live = LiveData(tmp_path)
    live.open()
    calls: list[int] = []

    def count() -> int:
        calls.append(live.version)
        return len(live.fetch("round_trials", project="p", client="c", round=0))

    try:
        assert live.cached(("n",), count) == 1
        assert live.cached(("n",), count) == 1
        assert live.refresh() is False  # nothing new: same version, no query
        assert live.cached(("n",), count) == 1 and len(calls) == 1
        version = live.version
        one_trial()
        assert live.refresh() is True and live.version == version + 1
        assert live.cached(("n",), count) == 2 and len(calls) == 2
    finally:
        live.close()
        root.close()


def test_hyperparameter_columns_align_with_trials() -> None:
    params = pa.table(
        {
            "trial": pa.array([0, 1, 2, 0, 2], pa.int32()),
            "name": ["lr", "lr", "lr", "act", "act"],
            "value": ["0.0001", "0.1", "NaN", "<b>", "relu"],
            "value_num": [1e-4, 0.1, float("nan"), None, None],
        }
    )
    columns = {c["name"]: c for c in encode.hyperparameter_columns([2, 1, 0], params)}
    assert columns["lr"]["values"] == ["NaN", 0.1, 1e-4]
    assert columns["lr"]["log"] is True and columns["lr"]["kind"] == "number"
    assert columns["act"]["labels"] == ["<b>", "relu"] and columns["act"]["codes"] == [1, -1, 0]
    assert columns["act"]["varies"] is True


def test_best_trials_ties_go_to_the_lowest_trial() -> None:
    trials = {
        "trial": [0, 1, 2, 3],
        "status": ["SUCCESS", "SUCCESS", "FAILED", "SUCCESS"],
        "score": [0.5, 0.7, None, 0.7],
    }
    assert pages.best_trials(trials, True, 2) == [1, 3]
    assert pages.best_trials(trials, False, 5) == [0, 1, 3]
    assert pages.best_trials(trials, None, 5) == []


def test_file_uris_name_local_paths(tmp_path: Path) -> None:
    assert source_path(tmp_path.as_uri()) == tmp_path
    assert source_path("runs") == "runs"
    with pytest.raises(ValueError, match="local path"):
        source_path("file://elsewhere/runs")
