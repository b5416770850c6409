"""The public views: exact columns, and the score rules of SPEC §3 on tiny rounds.

The rounds are written through the scope API (``_rounds.RoundWriter``), and every
test runs on each real backend of ``_rounds.ROOTS``: in memory, and a Parquet
directory read through ``read_parquet``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import arrowscope as asc
from _rounds import ROOTS, RoundWriter, publish, split
from arrowscope.query import VIEWS, QuerySession
from arrowscope.summaries import SUMMARY_FIELDS

NAN, INF = math.nan, math.inf

EXPECTED_COLUMNS = {
    "metrics": [
        "project", "client", "round", "trial", "split", "attempt", "metric", "phase", "epoch",
        "value", "logged_at",
    ],
    "events": [
        "project", "client", "round", "level", "trial", "split", "metric", "attempt", "status",
        "main_metric_name", "higher_is_better", "hyperparams", "error", "traceback",
        *(f"{phase}_{name}" for phase in ("train", "valid") for name in SUMMARY_FIELDS),
        "at", "writer", "seq", "clock",
    ],
    "rounds": [
        "project", "client", "round", "main_metric_name", "higher_is_better", "n_trials",
        "n_success", "best_trial", "best_score", "created_at",
    ],
    "trials": [
        "project", "client", "round", "trial", "status", "hyperparams", "score",
        "n_epochs_to_best", "n_splits", "created_at", "started_at", "ended_at", "error",
    ],
    "splits": [
        "project", "client", "round", "trial", "split", "status", "score", "n_epochs_to_best",
        "started_at", "ended_at", "error",
    ],
    "curves": [
        "project", "client", "round", "trial", "metric", "phase", "epoch", "value", "n_splits",
    ],
    "params": ["project", "client", "round", "trial", "name", "value", "value_num"],
}  # fmt: skip


@pytest.fixture(params=sorted(ROOTS))
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[asc.Root]:
    root = ROOTS[request.param](tmp_path)
    yield root
    root.close()


def session(root: asc.Root) -> QuerySession:
    publish(root.repository)
    return QuerySession(root.repository)


def rows(root: asc.Root, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    return session(root).fetch(query, params).fetchall()


def trial_scores(root: asc.Root) -> dict[int, tuple[Any, ...]]:
    found = rows(root, "select trial, status, score, n_epochs_to_best, n_splits from trials")
    return {r[0]: r[1:] for r in found}


def best(root: asc.Root) -> tuple[Any, ...]:
    (row,) = rows(root, "select higher_is_better, best_trial, best_score from rounds")
    return row


# -- columns -----------------------------------------------------------------
def test_the_views_are_exactly_those_of_the_design() -> None:
    assert tuple(EXPECTED_COLUMNS) == VIEWS


@pytest.fixture(scope="module", params=sorted(ROOTS))
def empty_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QuerySession]:
    """A session over an empty repository of each backend, shared by tests that only read."""
    root = ROOTS[request.param](tmp_path_factory.mktemp("empty"))
    found = session(root)
    yield found
    found.close()
    root.close()


@pytest.fixture(scope="module", params=sorted(ROOTS))
def populated_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QuerySession]:
    """A session over one round of each backend, shared by tests that only read."""
    root = ROOTS[request.param](tmp_path_factory.mktemp("populated"))
    rnd = RoundWriter(root)
    rnd.trial({"lr": 0.5}, [split([0.5, 0.25])], retrain=[split([0.125])])
    found = session(root)
    yield found
    found.close()
    root.close()


@pytest.mark.parametrize("view", VIEWS)
def test_columns_on_an_empty_repository(empty_session: QuerySession, view: str) -> None:
    result = empty_session.fetch(f"select * from {view}")
    assert result.columns == EXPECTED_COLUMNS[view]
    assert len(result) == 0


@pytest.mark.parametrize("view", VIEWS)
def test_columns_on_a_populated_round(populated_session: QuerySession, view: str) -> None:
    result = populated_session.fetch(f"select * from {view}")
    assert result.columns == EXPECTED_COLUMNS[view]
    assert len(result) > 0


def test_column_types(root: asc.Root) -> None:
    RoundWriter(root).trial({"lr": 0.5}, [split([0.5])])
    s = session(root)
    trials = s.fetch("select * from trials").arrow.schema
    assert trials.field("round").type == pa.int32() and trials.field("trial").type == pa.int32()
    assert trials.field("score").type == pa.float64()
    assert trials.field("n_epochs_to_best").type == pa.float64()
    assert pa.types.is_timestamp(trials.field("created_at").type)
    assert trials.field("created_at").type.tz is not None
    rounds = s.fetch("select * from rounds").arrow.schema
    assert rounds.field("best_trial").type == pa.int32()
    assert rounds.field("higher_is_better").type == pa.bool_()
    splits = s.fetch("select * from splits").arrow.schema
    assert splits.field("n_epochs_to_best").type == pa.int32()


# -- split scores --------------------------------------------------------------
def test_split_score_is_the_best_value_and_its_first_epoch(root: asc.Root) -> None:
    rnd = RoundWriter(root, main_metric="mse")
    rnd.trial({}, [split([0.5, 0.25, 0.25, 0.75]), split([1.0, 3.0, 3.0], hib=True)])
    found = rows(root, "select split, score, n_epochs_to_best from splits order by split")
    assert found == [(0, 0.25, 2), (1, 3.0, 2)]


def test_split_score_ignores_nan_and_infinities(root: asc.Root) -> None:
    rnd = RoundWriter(root, main_metric="mse")
    rnd.trial({}, [split([NAN, 0.5, -INF, INF, 0.25]), split([INF, 0.75], hib=True)])
    rnd.trial({}, [split([NAN, NAN])])
    found = rows(root, "select trial, split, score, n_epochs_to_best from splits")
    assert found == [(0, 0, 0.25, 5), (0, 1, 0.75, 2), (1, 0, None, None)]
    assert trial_scores(root)[1] == ("SUCCESS", None, None, 1)
    (raw,) = rows(root, "select count(*) from metrics where not isfinite(value)")
    assert raw == (6 * 2,)  # stored as given, train and valid


def test_split_score_uses_the_main_metric_only(root: asc.Root) -> None:
    rnd = RoundWriter(root, main_metric="acc")
    rnd.trial({}, [split([0.25], more={"acc": ([0.5, 0.75], True)})])
    assert rows(root, "select score, n_epochs_to_best from splits") == [(0.75, 2)]


def test_split_score_is_kept_whatever_the_split_status(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5], error=ValueError("boom"))])  # its only split failed
    found = rows(root, "select status, score, error from splits")
    assert found == [("FAILED", 0.5, "ValueError: boom")]


# -- trial scores --------------------------------------------------------------
def test_trial_score_is_the_mean_over_its_successful_splits(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.75]), split([0.25])])
    rnd.trial({}, [split([0.75]), split([0.25]), split([0.0], error=ValueError("x"))])
    scores = trial_scores(root)
    assert scores[0] == ("SUCCESS", 0.5, 1.0, 2)
    assert scores[1] == ("SUCCESS", 0.5, 1.0, 3)  # a mixed trial: SUCCESS, failed split left out


def test_failed_and_aborted_trials_have_no_score(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5, 0.25])], error=RuntimeError("x"))
    rnd.trial({}, [split([0.5], error=KeyboardInterrupt())], error=KeyboardInterrupt())
    rnd.trial({}, [split([0.5])], running=True)
    scores = trial_scores(root)
    # n_epochs_to_best is not gated on the trial's status (SPEC §3.4)
    assert scores[0] == ("FAILED", None, 2.0, 1)
    assert scores[1] == ("ABORTED", None, None, 1)
    assert scores[2] == ("RUNNING", None, 1.0, 1)
    assert best(root) == (False, None, None)


def test_a_trial_without_splits_is_unscored(root: asc.Root) -> None:
    RoundWriter(root).trial({"lr": 1}, [])
    assert trial_scores(root) == {0: ("SUCCESS", None, None, 0)}
    assert rows(root, "select n_trials, n_success, best_trial from rounds") == [(1, 1, None)]


def test_trial_n_epochs_to_best_is_averaged(root: asc.Root) -> None:
    RoundWriter(root).trial({}, [split([0.5, 0.25]), split([0.25, 0.5, 0.75])])
    assert trial_scores(root)[0] == ("SUCCESS", 0.25, 1.5, 2)


def test_retrain_split_is_excluded_from_trial_scores(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5])], retrain=[split([0.0])])
    assert trial_scores(root)[0] == ("SUCCESS", 0.5, 1.0, 1)
    assert rows(root, "select split from splits order by split") == [(-1,), (0,)]


def test_replaced_retrain_values_are_ignored(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    # a second retrain_split() replaces the first
    rnd.trial({}, [split([0.5])], retrain=[split([0.125, 0.0625]), split([0.25, 0.375])])
    found = rows(root, "select score, n_epochs_to_best, status from splits where split = -1")
    assert found == [(0.25, 1, "SUCCESS")]
    (raw,) = rows(root, "select count(*) from metrics where split = -1 and phase = 'valid'")
    assert raw == (4,)  # the raw view keeps every value as logged
    assert trial_scores(root)[0][1] == 0.5


# -- rounds ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hib", "values", "expected"),
    [
        (False, [0.5, 0.25, 0.25, 0.75], (False, 1, 0.25)),
        (True, [0.5, 0.75, 0.25, 0.75], (True, 1, 0.75)),
    ],
)
def test_best_trial_ties_go_to_the_lowest_id(
    root: asc.Root, hib: bool, values: list[float], expected: tuple[Any, ...]
) -> None:
    rnd = RoundWriter(root)
    for number, value in enumerate(values):
        rnd.trial({"i": number}, [split([value], hib=hib)])
    assert best(root) == expected
    # The reports rank the same way, in one query or over every trial.
    assert rnd.round.get_best_trial_id() == expected[1]
    assert rnd.round.best_result_summary()[:2] == (expected[2], expected[1])
    assert rnd.round.summary()[0][:2] == (expected[2], expected[1])


def test_best_trial_skips_failed_and_unscored_trials(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.0625])], error=ValueError("x"))
    rnd.trial({}, [split([NAN])])
    rnd.trial({}, [split([0.5])])
    rnd.trial({}, [split([0.125], error=ValueError("x")), split([0.375])])
    assert best(root) == (False, 3, 0.375)
    assert rows(root, "select n_trials, n_success from rounds") == [(4, 3)]


def test_round_direction_comes_from_the_last_trial_that_recorded_the_metric(
    root: asc.Root,
) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5], hib=True)])
    rnd.trial({}, [split([0.25], hib=True), split([0.75], hib=False)])
    rnd.trial({}, [split([1.0], metric="other")])
    # trial 1's last split says lower is better; trial 0 scores 0.5, trial 1 0.5 too
    assert best(root) == (False, 0, 0.5)


def test_an_empty_round(root: asc.Root) -> None:
    RoundWriter(root, main_metric="mse")
    found = rows(root, "select main_metric_name, higher_is_better, n_trials, n_success, "
                       "best_trial, best_score, created_at is not null from rounds")  # fmt: skip
    assert found == [("mse", None, 0, 0, None, None, True)]
    for view in ("trials", "splits", "curves", "params"):
        assert rows(root, f"select count(*) from {view}") == [(0,)]


def test_a_round_without_main_metric_scores_nothing(root: asc.Root) -> None:
    rnd = RoundWriter(root, main_metric=None)
    rnd.trial({}, [split([0.5])])
    assert trial_scores(root)[0] == ("SUCCESS", None, None, 1)
    assert best(root) == (None, None, None)


def test_a_changed_main_metric_rescores_the_round(root: asc.Root) -> None:
    rnd = RoundWriter(root, main_metric="mse")
    rnd.trial({}, [split([0.5], more={"acc": ([0.25], True)})])
    rnd.trial({}, [split([0.25], more={"acc": ([0.125], True)})])
    assert best(root) == (False, 1, 0.25)
    rnd.set_main_metric("acc")
    assert rows(root, "select main_metric_name from rounds") == [("acc",)]
    assert best(root) == (True, 0, 0.25)


def test_rounds_and_clients_are_kept_apart(root: asc.Root) -> None:
    RoundWriter(root, ("p", "a")).trial({}, [split([0.5])])
    RoundWriter(root, ("p", "a"), "acc").trial({}, [split([0.5], metric="acc")])
    RoundWriter(root, ("p", "b")).trial({}, [split([0.25])])
    found = rows(root, "select client, round, main_metric_name, n_trials, best_score from rounds")
    assert found == [("a", 0, "mse", 1, 0.5), ("a", 1, "acc", 1, 0.5), ("b", 0, "mse", 1, 0.25)]


# -- times and states ------------------------------------------------------------------
def test_trial_times_and_a_reentered_trial(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({"lr": 1}, [split([0.5])])
    first = rows(root, "select created_at, started_at, ended_at from trials")[0]
    assert first[0] <= first[1] < first[2]
    rnd.reenter([split([0.25])], running=True)  # its next split is number 1
    again = rows(root, "select status, created_at, started_at, ended_at, n_splits from trials")[0]
    assert again[0] == "RUNNING"
    assert again[1] == first[0]  # created: the first PLANNED event
    assert again[2] > first[2]  # started: the latest RUNNING event
    assert again[3] is None and again[4] == 2
    rnd.finish(KeyError("x"))
    final = rows(root, "select status, score, ended_at > started_at, error from trials")[0]
    assert final == ("FAILED", None, True, "KeyError: 'x'")


def test_latest_event_wins_even_when_its_fields_are_null(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({"lr": 1}, [split([0.5])], error=ValueError("first"))
    rnd.reenter([split([0.25])])
    assert rows(root, "select status, error, score from trials") == [("SUCCESS", None, 0.375)]


def test_same_microsecond_events_are_ordered_by_seq(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    at = time.time_ns() // 1000
    for status in ("PLANNED", "RUNNING", "SUCCESS"):  # a state no scope writes: one instant
        rnd.event("trial", trial=0, status=status, hyperparams="{}", at=at)
    assert rows(root, "select status, created_at = ended_at from trials") == [("SUCCESS", True)]


# -- curves ----------------------------------------------------------------------
def test_ragged_curves_average_over_the_splits_reaching_each_epoch(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    rnd.trial({}, [split([1.0, 2.0, 3.0]), split([3.0], error=ValueError("x")), split([2.0, 4.0])])
    rnd.trial({}, [split([0.5])], retrain=[split([9.0, 9.0, 9.0, 9.0])])
    found = rows(root, "select trial, epoch, value, n_splits from curves where phase = 'valid'")
    assert found == [(0, 1, 2.0, 3), (0, 2, 3.0, 2), (0, 3, 3.0, 1), (1, 1, 0.5, 1)]


def test_curves_keep_train_and_valid_apart(root: asc.Root) -> None:
    RoundWriter(root).trial({}, [split([0.5, 0.25], train=[1.0, 0.75])])
    found = rows(root, "select metric, phase, epoch, value from curves")
    assert found == [
        ("mse", "train", 1, 1.0), ("mse", "train", 2, 0.75),
        ("mse", "valid", 1, 0.5), ("mse", "valid", 2, 0.25),
    ]  # fmt: skip


# -- params ------------------------------------------------------------------------
def test_params_are_one_row_per_key_with_text_and_number(root: asc.Root) -> None:
    hp = {"opt__lr": 0.125, "opt__name": "adam", "flag": True, "n": 3, "none": None, "q": 'a"b'}
    rnd = RoundWriter(root)
    rnd.trial(hp, [split([0.5])])
    rnd.trial({"opt__lr": 0.25}, [split([0.5])])
    found = rows(root, "select trial, name, value, value_num from params")
    assert found == [
        (0, "flag", "true", None),
        (0, "n", "3", 3.0),
        (0, "none", None, None),
        (0, "opt__lr", "0.125", 0.125),
        (0, "opt__name", "adam", None),
        (0, "q", 'a"b', None),
        (1, "opt__lr", "0.25", 0.25),
    ]
    (text,) = rows(root, "select hyperparams from trials where trial = 0")[0]
    assert json.loads(text) == hp


def test_params_skip_text_that_is_not_a_json_object(root: asc.Root) -> None:
    rnd = RoundWriter(root)
    for number, text in enumerate(["not json", "[1, 2]", '{"a": 1}']):  # no scope writes these
        rnd.event("trial", trial=number, status="PLANNED", hyperparams=text)
    assert rows(root, "select trial, name from params") == [(2, "a")]
    assert len(rows(root, "select * from trials")) == 3


# -- names ---------------------------------------------------------------------------
NASTY = ["it's", '"q"', "é 漢", "x'); drop view metrics; --", "100%", "123", "a b"]


@pytest.mark.parametrize("name", NASTY)
def test_names_round_trip_and_are_queried_literally(root: asc.Root, name: str) -> None:
    rnd = RoundWriter(root, (name, name), main_metric=name)
    rnd.trial({name: name}, [split([0.5, 0.25], metric=name, more={"other": ([1.0], True)})])
    s = session(root)
    params = {"p": name}
    found = s.fetch(
        "select project, client, main_metric_name, best_score from rounds where project = $p",
        params,
    ).fetchall()
    assert found == [(name, name, name, 0.25)]
    curves = s.fetch("select metric, count(*) from curves where metric = $p group by 1", params)
    assert curves.fetchall() == [(name, 4)]
    assert s.fetch("select name, value from params").fetchall() == [(name, name)]
    assert s.fetch("select count(*) from metrics").fetchall() == [(6,)]  # views still there
    catalog = s.fetch("select project, client from catalog order by client nulls first")
    assert catalog.fetchall() == [(name, None), (name, name)]
