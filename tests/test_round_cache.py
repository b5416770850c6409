"""The derived-table cache of settled rounds (``arrowscope._round_cache``).

A connection stores the derived tables of every round whose events are all in
Parquet parts, and the next connection reads them instead of the round's
events. These tests write real rounds through the scopes, connect for real, and
compare what a connection with the cache answers to what one computes from the
events (the cache deleted), table by table and row by row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pytest

import arrowscope as asc
from _rounds import RoundWriter, split
from arrowscope._derived import CACHED
from arrowscope._round_cache import split_by_round

FORMAT1 = Path(__file__).with_name("data") / "format1"
TABLES = ("rounds", "trials", "splits", "params", *(n for n in CACHED if n.startswith("_")))


def write_round(path: Path, names: tuple[str, str], trials: int, *, lr0: float = 0.1) -> None:
    """A closed round of ``trials`` trials (every third one FAILED), two splits each."""
    root = asc.Root.at(path, flush_interval=0)
    rnd = RoundWriter(root, names=names)
    for t in range(trials):
        values = [1.0 / (t + 1), 0.5 / (t + 1), 0.75 / (t + 1)]
        error = ValueError("diverged") if t % 3 == 2 else None
        rnd.trial(
            {"lr": lr0 * (t + 1), "depth": t % 4}, [split(values), split(values[::-1])], error=error
        )
    rnd.close()
    root.close()


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every derived table as rows, in the order the connection gives them, and its columns."""
    con = asc.connect(path)
    try:
        rows = {name: con.sql(f'SELECT * FROM "{name}"').fetchall() for name in TABLES}
        types = {f"{name} columns": con.sql(f'DESCRIBE "{name}"').fetchall() for name in TABLES}
        return {**rows, **types}
    finally:
        con.close()


def sorted_rows(tables: dict[str, list[tuple[object, ...]]]) -> dict[str, list[str]]:
    """The same rows as text, sorted: tables without an ORDER BY may come in any order."""
    return {name: sorted(map(repr, rows)) for name, rows in tables.items()}


def cache_dirs(path: Path) -> list[Path]:
    """The key directories of the cache, one per cached round and key."""
    return sorted(p for p in (path / "_cache" / "derived").glob("project=*/client=*/round=*/*"))


@pytest.fixture
def two_rounds(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    write_round(path, ("vision", "resnet"), 7)
    write_round(path, ("vision", "resnet"), 4, lr0=0.2)
    write_round(path, ("audio", "wav2vec"), 5)
    return path


def test_cached_rounds_answer_what_their_events_do(two_rounds: Path) -> None:
    computed = snapshot(two_rounds)
    assert len(cache_dirs(two_rounds)) == 3  # one per settled round
    cached = snapshot(two_rounds)
    # Row for row, in order for the views with an ORDER BY.
    for name in ("rounds", "trials", "splits", "params"):
        assert cached[name] == computed[name], name
    assert sorted_rows(cached) == sorted_rows(computed)
    assert [r[:3] for r in cached["rounds"]] == [
        ("audio", "wav2vec", 0),
        ("vision", "resnet", 0),
        ("vision", "resnet", 1),
    ]
    assert len(cached["trials"]) == 16 and len(cached["params"]) == 32


def test_a_connection_reads_the_cache_not_the_events(two_rounds: Path) -> None:
    snapshot(two_rounds)
    # Rewrite one cached round's `rounds` row: a connection that shows it read the cache.
    (target,) = [d for d in cache_dirs(two_rounds) if "audio" in str(d)]
    rewrite(target / "rounds.arrow", "n_trials", pa.array([999], pa.int64()))
    con = asc.connect(two_rounds)
    assert con.sql("SELECT client, round, n_trials FROM rounds").fetchall() == [
        ("wav2vec", 0, 999),
        ("resnet", 0, 7),
        ("resnet", 1, 4),
    ]


def test_new_parts_replace_a_rounds_cache(two_rounds: Path) -> None:
    before = snapshot(two_rounds)
    old = {d.parent: d.name for d in cache_dirs(two_rounds)}
    root = asc.Root.at(two_rounds, flush_interval=0)
    with root.get_project("audio") as project, project.get_client("wav2vec") as client:
        with client.resume_last_round() as rnd:
            rnd.with_optimizer(
                asc.HyperparameterSamplerStub({"lr": 9.0, "depth": 0}), asc.HyperparameterSpace({})
            )
            with rnd.new_rvs_trial() as trial, trial.new_validation_split() as s:
                with s.managed_metric("mse", False) as m:
                    m.add_valid_result(0.001)
    root.close()
    after = snapshot(two_rounds)
    audio = [r for r in after["trials"] if r[1] == "wav2vec"]
    assert len(audio) == 6 and audio[-1][6] == pytest.approx(0.001)
    assert next(r for r in after["rounds"] if r[1] == "wav2vec")[7] == 5  # the new best trial
    # The other rounds kept their keys; the audio round has a new one, and only it.
    now = {d.parent: d.name for d in cache_dirs(two_rounds)}
    assert len(now) == 3
    changed = [parent for parent in now if now[parent] != old[parent]]
    assert [p.parts[-3] for p in changed] == ["project=audio"]
    # And a connection computing everything anew agrees with the cache.
    shutil.rmtree(two_rounds / "_cache")
    assert sorted_rows(snapshot(two_rounds)) == sorted_rows(after)
    assert before["rounds"] != after["rounds"]


def test_compaction_changes_the_key_and_the_answers_stay(two_rounds: Path) -> None:
    before = snapshot(two_rounds)
    keys = [d.name for d in cache_dirs(two_rounds)]
    root = asc.Root.at(two_rounds)
    assert root.repository.compact() > 0
    root.close()
    after = snapshot(two_rounds)
    assert sorted_rows(after) == sorted_rows(before)
    assert after["trials"] == before["trials"]
    assert set(keys).isdisjoint(d.name for d in cache_dirs(two_rounds))


def test_a_live_round_is_computed_and_settled_ones_come_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "runs"
    write_round(path, ("p", "c"), 3)
    snapshot(path)
    # A second round, open in this process: its rows are staged or in the log, not in parts.
    root = asc.Root.at(path, flush_interval=60)
    rnd = RoundWriter(root, names=("p", "c"))
    rnd.trial({"lr": 0.3}, [split([0.2, 0.1])])
    rnd.trial({"lr": 0.4}, [split([0.9])], running=True)
    con = asc.connect(root)
    trials = con.sql("SELECT round, trial, status, score FROM trials").fetchall()
    assert [t[:3] for t in trials] == [
        (0, 0, "SUCCESS"),
        (0, 1, "SUCCESS"),
        (0, 2, "FAILED"),
        (1, 0, "SUCCESS"),
        (1, 1, "RUNNING"),
    ]
    assert trials[3][3] == pytest.approx(0.1)
    assert [d.parts[-2] for d in cache_dirs(path)] == ["round=0"]  # the live round is not cached
    rnd.finish()
    rnd.close()
    root.close()
    settled = snapshot(path)
    assert [d.parts[-2] for d in cache_dirs(path)] == ["round=0", "round=1"]
    shutil.rmtree(path / "_cache")
    assert sorted_rows(snapshot(path)) == sorted_rows(settled)


def test_a_cache_that_cannot_be_written_changes_nothing(two_rounds: Path) -> None:
    (two_rounds / "_cache").write_text("not a directory")
    first = snapshot(two_rounds)
    second = snapshot(two_rounds)
    assert sorted_rows(first) == sorted_rows(second) and len(first["trials"]) == 16
    assert (two_rounds / "_cache").read_text() == "not a directory"


def test_an_unreadable_cache_counts_as_absent(two_rounds: Path) -> None:
    computed = snapshot(two_rounds)
    for directory in cache_dirs(two_rounds):
        (directory / "trials.arrow").write_bytes(b"garbage")
    assert sorted_rows(snapshot(two_rounds)) == sorted_rows(computed)


def test_format_1_rounds_are_never_cached(tmp_path: Path) -> None:
    path = tmp_path / "runs"
    shutil.copytree(FORMAT1, path)
    first = snapshot(path)
    assert cache_dirs(path) == []
    assert sorted_rows(snapshot(path)) == sorted_rows(first)


def test_plain_duckdb_globs_of_the_tables_never_see_the_cache(two_rounds: Path) -> None:
    snapshot(two_rounds)
    events = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{two_rounds}/events/**/*.parquet')"
    ).fetchall()[0][0]
    con = asc.connect(two_rounds)
    assert events == con.sql("SELECT count(*) FROM events").fetchall()[0][0]
    assert not list((two_rounds / "_cache").rglob("*.parquet"))


def test_split_by_round_keeps_each_rounds_rows_in_order() -> None:
    table = pa.table(
        {
            "project": ["b", "a", "b", "a", "a"],
            "client": ["c", "c", "c", "c", "d"],
            "round": pa.array([0, 1, 0, 1, 0], pa.int32()),
            "trial": [5, 9, 3, 2, 7],
        }
    )
    parts = split_by_round(table)
    assert list(parts) == [("a", "c", 1), ("a", "d", 0), ("b", "c", 0)]
    assert parts[("a", "c", 1)]["trial"].to_pylist() == [9, 2]
    assert parts[("b", "c", 0)]["trial"].to_pylist() == [5, 3]
    assert split_by_round(table.slice(0, 0)) == {}


def rewrite(path: Path, column: str, value: pa.Array) -> None:
    """Replace one column of a cached table file (to tell a cached answer from a computed one)."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    table = table.set_column(table.schema.get_field_index(column), column, value)
    # A new file renamed over the old one, as the cache writes: the table read
    # above still maps the old file's pages.
    replacement = path.with_suffix(".new")
    with pa.OSFile(str(replacement), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    replacement.replace(path)


def report_answers(path: Path) -> list[object]:
    """What the reports of a fresh root say about the vision round 0."""
    root = asc.Root.at(path)
    rnd = root["vision"]["resnet"][0]
    trial = rnd[1]
    answers = [
        rnd.get_best_trial_id(),
        rnd.main_metric_name,
        len(rnd),
        [t.get_status() for t in rnd],
        trial.get_avg_validation_score("mse"),
        trial[0]["mse"].get_valid_scores(),
        trial.get_hyperparams().to_flat_dict(),
    ]
    root.close()
    return answers


def test_reports_on_a_cached_round_answer_the_same(two_rounds: Path) -> None:
    computed = report_answers(two_rounds)
    snapshot(two_rounds)  # stores the cache
    assert report_answers(two_rounds) == computed
    assert computed[0] == 6 and computed[2] == 7
    # The reports did read the cache: a rewritten round state shows through.
    (target,) = [
        d for d in cache_dirs(two_rounds) if "project=vision" in str(d) and "round=0" in str(d)
    ]
    trial_metric = target / "_trial_metric.arrow"
    with pa.memory_map(str(trial_metric)) as source:
        n_rows = pa.ipc.open_file(source).read_all().num_rows
    rewrite(trial_metric, "score", pa.array([42.0] * n_rows))
    assert report_answers(two_rounds)[4] == 42.0


def test_a_round_with_a_trial_still_running_is_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "runs"
    root = asc.Root.at(path, flush_interval=60)
    rnd = RoundWriter(root)
    rnd.trial({"lr": 0.1}, [split([0.5])])
    rnd.trial({"lr": 0.2}, [split([0.25])], running=True)
    root.repository.flush()
    root.repository.checkpoint()  # every row in a part: the round is settled, not finished
    assert asc.connect(path).sql("SELECT status FROM trials").fetchall() == [
        ("SUCCESS",),
        ("RUNNING",),
    ]
    assert cache_dirs(path) == []
    rnd.finish()
    rnd.close()
    root.close()
    assert snapshot(path)["trials"][1][4] == "SUCCESS"
    assert [d.parts[-2] for d in cache_dirs(path)] == ["round=0"]


def test_one_report_session_moves_between_cached_and_live_rounds(two_rounds: Path) -> None:
    snapshot(two_rounds)  # vision/resnet 0 and 1 and audio/wav2vec 0 are cached
    root = asc.Root.at(two_rounds, flush_interval=60)
    live = RoundWriter(root, names=("vision", "resnet"))  # round 2, rows staged here
    live.trial({"lr": 1.0}, [split([0.001])])
    resnet = root["vision"]["resnet"]
    for _ in range(2):
        assert resnet[0].get_best_trial_id() == 6
        assert [len(resnet[0]), len(resnet[1]), len(resnet[2])] == [7, 4, 1]
        assert resnet[2].get_best_trial_id() == 0
        assert resnet[2][0].get_avg_validation_score("mse") == pytest.approx(0.001)
        assert resnet[1][3][0]["mse"].get_valid_scores() == [0.25, 0.125, 0.1875]
    live.close()
    root.close()
