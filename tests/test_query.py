"""``arrowscope.query``: connecting, snapshots and refresh, file lists, bound parameters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

import arrowscope as asc
from _rounds import ROOTS, RoundWriter, publish, split
from arrowscope import query
from arrowscope._derived import DERIVED_VIEWS
from arrowscope.errors import ArrowscopeError
from arrowscope.query import QueryError, QuerySession, connect, refresh
from arrowscope.schema import schemas_dir
from arrowscope.store import InMemoryRepository, ParquetRepository, Repository


def count(con: duckdb.DuckDBPyConnection, view: str) -> int:
    ((n,),) = con.sql(f"select count(*) from {view}").fetchall()
    return int(n)


# -- connect -------------------------------------------------------------------------
def test_connect_to_a_missing_directory_says_how_to_create_one(tmp_path: Path) -> None:
    missing = tmp_path / "no such runs"
    with pytest.raises(FileNotFoundError, match="no such runs") as info:
        connect(missing)
    assert "Root.at(" in str(info.value)
    with pytest.raises(FileNotFoundError):
        connect(str(missing))


def test_connect_to_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.txt"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match=r"runs\.txt"):
        connect(path)


def test_connect_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match="Repository"):
        connect(42)


def test_connect_gives_every_view() -> None:
    con = connect(InMemoryRepository())
    assert isinstance(con, duckdb.DuckDBPyConnection)
    names = {r[0] for r in con.sql("select view_name from duckdb_views()").fetchall()}
    names |= {r[0] for r in con.sql("select table_name from duckdb_tables()").fetchall()}
    assert set(query.VIEWS) | {"catalog"} <= names
    for view in (*query.VIEWS, "catalog"):
        assert count(con, view) == 0


def test_connect_accepts_an_object_with_a_repository() -> None:
    class Scope:
        def __init__(self, repository: Repository) -> None:
            self.repository = repository

    root = asc.Root.in_memory()
    RoundWriter(root).trial({}, [split([0.5])])
    con = connect(Scope(root.repository))
    assert count(con, "trials") == 1
    assert query.session_of(con).repository is root.repository


def test_connect_to_a_data_directory(tmp_path: Path) -> None:
    root = ROOTS["parquet"](tmp_path)
    RoundWriter(root).trial({}, [split([0.5])])
    root.close()
    con = connect(root.repository.location)
    assert con.sql("select trial, score from trials").fetchall() == [(0, 0.5)]


# -- snapshots and refresh ---------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(ROOTS))
def test_a_connection_is_a_snapshot_until_refreshed(kind: str, tmp_path: Path) -> None:
    root = ROOTS[kind](tmp_path)
    repo = root.repository
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5])])
    publish(repo)
    con = connect(repo)
    rnd.trial({}, [split([0.25])])  # not in a Parquet part
    assert count(con, "trials") == 1
    assert refresh(con) is con
    assert count(con, "trials") == 2
    publish(repo)
    refresh(con)
    assert con.sql("select trial, score from trials").fetchall() == [(0, 0.5), (1, 0.25)]


def test_times_read_back_in_utc() -> None:
    root = asc.Root.in_memory()
    RoundWriter(root).trial({}, [split([0.5])])
    con = connect(root)
    assert con.sql("select current_setting('TimeZone')").fetchall() == [("UTC",)]
    ((created,),) = con.sql("select created_at from trials").fetchall()
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0


def test_refresh_needs_a_connection_from_connect() -> None:
    with pytest.raises(ValueError, match=r"arrowscope\.connect"):
        refresh(duckdb.connect())


def test_parts_and_pending_rows_are_never_seen_twice(tmp_path: Path) -> None:
    root = ROOTS["parquet"](tmp_path)
    repo = root.repository
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5, 0.25])])
    publish(repo)
    rnd.trial({}, [split([0.75])])
    assert repo.parquet_files("metrics") and repo.pending("metrics").num_rows == 2
    con = connect(repo)
    assert count(con, "metrics") == 6
    assert con.sql("select trial, score from trials").fetchall() == [(0, 0.25), (1, 0.75)]


def test_the_parquet_view_is_repointed_only_when_the_files_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    original = query.point_parquet_view

    def spy(con: duckdb.DuckDBPyConnection, table: str, files: tuple[str, ...]) -> None:
        calls.append((table, len(files)))
        original(con, table, files)

    monkeypatch.setattr(query, "point_parquet_view", spy)
    root = ROOTS["parquet"](tmp_path)
    repo = root.repository
    rnd = RoundWriter(root)  # the catalog gets its parts at once
    session = QuerySession(repo)
    assert calls == [("metrics", 0), ("events", 0), ("catalog", 2)]
    rnd.trial({}, [split([0.5])])
    session.refresh()
    assert len(calls) == 3  # only rows outside the parts changed
    assert session.fetch("select count(*) from trials").fetchall() == [(1,)]
    publish(repo)
    session.refresh()
    assert calls[3:] == [("metrics", 1), ("events", 1)]


def test_a_part_removed_by_compaction_is_listed_again(tmp_path: Path) -> None:
    root = ROOTS["parquet"](tmp_path)
    repo = root.repository
    rnd = RoundWriter(root)
    rnd.trial({}, [split([0.5])])
    publish(repo)
    rnd.trial({}, [split([0.25])])
    publish(repo)
    session = QuerySession(repo)
    assert repo.compact() > 0  # the listed parts are gone
    found = session.fetch("select trial, score from trials").fetchall()
    assert found == [(0, 0.5), (1, 0.25)]


def test_refresh_lists_again_when_a_listed_part_vanished(tmp_path: Path) -> None:
    class Stale(ParquetRepository):
        stale = 2  # listings that still name a removed part

        def parquet_files(self, table: str) -> list[str]:
            files = super().parquet_files(table)
            if self.stale > 0 and table == "metrics":
                self.stale -= 1
                return [*files, str(tmp_path / "runs" / "metrics" / "gone.parquet")]
            return files

    repo = Stale(tmp_path / "runs", flush_interval=3600)
    RoundWriter(asc.Root.from_repo(None, repo)).trial({}, [split([0.5])])
    publish(repo)
    session = QuerySession(repo)
    assert session.fetch("select score from trials").fetchall() == [(0.5,)]

    repo.stale = 100
    with pytest.raises(QueryError, match=r"gone\.parquet"):
        QuerySession(repo)


# -- paths and names -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["runs[1]", "runs*", "runs?", "it's'); drop view metrics; --"])
def test_paths_match_only_themselves(tmp_path: Path, name: str) -> None:
    decoy = asc.Root.at(tmp_path / "runs1" if "[" in name else tmp_path / "runsX")
    RoundWriter(decoy, ("decoy", "c")).trial({}, [split([1.0])])
    publish(decoy.repository)
    root = asc.Root.at(tmp_path / name)
    RoundWriter(root).trial({}, [split([0.5])])
    publish(root.repository)
    con = connect(root)
    assert con.sql("select project, trial, score from trials").fetchall() == [("p", 0, 0.5)]
    definitions = con.sql("select sql from duckdb_views() where view_name = '_metrics_files'")
    assert name not in definitions.fetchall()[0][0]


def test_numeric_looking_names_stay_text(tmp_path: Path) -> None:
    root = ROOTS["parquet"](tmp_path)
    RoundWriter(root, ("123", "007")).trial({}, [split([0.5])])
    RoundWriter(root, ("1e5", "true")).trial({}, [split([0.5])])
    publish(root.repository)
    con = connect(root)
    assert con.sql("select project, client, round from rounds").fetchall() == [
        ("123", "007", 0),
        ("1e5", "true", 0),
    ]
    assert con.sql("select typeof(project), typeof(round) from metrics limit 1").fetchall() == [
        ("VARCHAR", "INTEGER")
    ]


# -- running queries ----------------------------------------------------------------------------
@pytest.fixture
def session() -> QuerySession:
    root = asc.Root.in_memory()
    RoundWriter(root, ("it's", '"q"')).trial({"lr": 0.5}, [split([0.5])])
    RoundWriter(root, ("it's", '"q"')).trial({"lr": 0.25}, [split([0.25])])
    return QuerySession(root.repository)


def test_run_binds_named_parameters(session: QuerySession) -> None:
    result = session.run("cli_trial", project="it's", client='"q"', round=1, trial=0)
    assert [(r[3], r[6]) for r in result.fetchall()] == [(0, 0.25)]
    injected = session.run("cli_trial", project="x' or '1'='1", client='"q"', round=1, trial=0)
    assert len(injected) == 0


def test_run_checks_its_parameters(session: QuerySession) -> None:
    with pytest.raises(QueryError, match="trial"):
        session.run("cli_trial", project="it's", client='"q"', round=1)
    with pytest.raises(QueryError):
        session.run("cli_trial", project="p", client="c", round=1, trial=0, extra=1)
    with pytest.raises(FileNotFoundError):
        session.run("no_such_query")


def test_bad_sql_is_a_query_error(session: QuerySession) -> None:
    with pytest.raises(QueryError, match="nope") as info:
        session.fetch("select * from nope")
    assert isinstance(info.value, ArrowscopeError) and isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, duckdb.Error)


def test_fetch_with_positional_parameters(session: QuerySession) -> None:
    result = session.fetch(
        "select round, score from trials where project = $1 order by 1", ["it's"]
    )
    assert result.fetchall() == [(0, 0.5), (1, 0.25)]


def test_result_gives_rows_and_frames(session: QuerySession) -> None:
    result = session.fetch("select trial, score, hyperparams from trials order by round")
    assert result.columns == ["trial", "score", "hyperparams"]
    assert len(result) == 2
    assert list(result) == result.fetchall() == [(0, 0.5, '{"lr": 0.5}'), (0, 0.25, '{"lr": 0.25}')]
    frame = result.pl()
    assert isinstance(frame, pl.DataFrame)
    assert frame["score"].to_list() == [0.5, 0.25]
    empty = session.fetch("select trial, score from trials where false").pl()
    assert empty.schema == pl.Schema({"trial": pl.Int32, "score": pl.Float64})


def test_sql_returns_a_lazy_relation(session: QuerySession) -> None:
    relation = session.sql("select count(*) from trials where project = $p", {"p": "it's"})
    assert relation is not None and relation.fetchall() == [(2,)]


def test_run_query_on_a_connection(session: QuerySession) -> None:
    result = query.run_query(
        session.connection, "cli_rounds", project=None, client=None, round=None
    )
    assert [r[:3] for r in result.fetchall()] == [("it's", '"q"', 1)]


def test_a_session_closes_its_connection() -> None:
    with QuerySession(InMemoryRepository()) as s:
        con = s.connection
        assert count(con, "trials") == 0
    with pytest.raises(duckdb.Error):
        con.sql("select 1").fetchall()


def test_a_refresh_recomputes_the_derived_tables_only_when_the_data_changed() -> None:
    root = asc.Root.in_memory()
    RoundWriter(root).trial({}, [split([0.5])])
    con = connect(root)
    con.execute("insert into trials select * from trials")  # a marker: two rows now
    query.refresh(con)
    assert count(con, "trials") == 2  # nothing changed: the tables were kept
    RoundWriter(root).trial({}, [split([0.25])])  # round 1
    query.refresh(con)
    assert count(con, "trials") == 2  # recomputed from the data: one trial in each round
    assert con.sql("select count(distinct round) from trials").fetchall() == [(2,)]


def test_sessions_are_independent() -> None:
    one, two = asc.Root.in_memory(), asc.Root.in_memory()
    RoundWriter(one).trial({}, [split([0.5])])
    con_one, con_two = connect(one), connect(two)
    assert (count(con_one, "trials"), count(con_two, "trials")) == (1, 0)


def test_every_view_file_is_created() -> None:
    files = {p.name[: -len(".sql")] for p in schemas_dir().joinpath("views").iterdir()}
    assert files == set(DERIVED_VIEWS)
    internal = [v for v in DERIVED_VIEWS if v.startswith("_")]
    assert set(DERIVED_VIEWS) - set(internal) == set(query.VIEWS) - {"metrics", "events"}


def test_view_sql_binds_no_user_text(tmp_path: Path) -> None:
    root = asc.Root.at(tmp_path / "x'y")
    repo = root.repository
    RoundWriter(root, ("it's", "c")).trial({}, [split([0.5])])
    publish(repo)
    con = connect(repo)
    texts: list[Any] = [r[0] for r in con.sql("select sql from duckdb_views()").fetchall()]
    assert not any("it's" in (t or "") or "x'y" in (t or "") for t in texts)
    assert os.path.exists(repo.parquet_files("metrics")[0])


def test_reports_read_a_rounds_values_only_for_queries_that_need_them(tmp_path: Path) -> None:
    root = asc.Root.at(tmp_path)
    first = RoundWriter(root)
    first.trial({}, [split([0.5, 0.25, 0.4]), split([0.3, 0.2, 0.1])])
    second = RoundWriter(root)
    second.trial({}, [split([0.9, 0.8])])
    reader = first.round._reader_of()

    def values_in_memory() -> int:
        return count(reader.session.connection, "_metrics_round")

    assert first.round.get_best_trial_id() == 0  # events and summaries only
    assert values_in_memory() == 0
    curves = first.round.to_scores_over_time_df("mse")  # reads values
    assert curves["mse"].to_list() == pytest.approx([0.4, 0.225, 0.25])
    assert values_in_memory() == 12  # train and valid values of its two splits
    assert second.round.get_best_trial_id() == 0  # another round: the first's values go
    assert values_in_memory() == 0
    assert second.round.to_scores_over_time_df("mse")["mse"].to_list() == pytest.approx([0.9, 0.8])
    assert values_in_memory() == 4
    root.close()


def _queryable(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` a query on ``con`` can read."""
    found = set()
    for name in names:
        try:
            con.sql(f"select 1 from {name} limit 0")
        except duckdb.Error:
            continue
        found.add(name)
    return found


def test_views_on_demand_are_created_by_the_first_query_naming_them(tmp_path: Path) -> None:
    root = ROOTS["parquet"](tmp_path)
    rnd = RoundWriter(root)
    rnd.trial({"lr": 0.5}, [split([0.5, 0.25]), split([0.4])])
    rnd.trial({"lr": 0.1}, [split([0.3, 0.35])])
    root.close()
    location = root.repository.location
    plain = ("curves", "_metric_values", "_success_curves")
    computing = QuerySession.open(location, views_on_demand=True)  # stores the round's tables
    assert list(Path(location, "_cache").rglob("trials.arrow"))
    eager = QuerySession.open(location)
    lazy = QuerySession.open(location, views_on_demand=True)  # reads them from the cache
    assert _queryable(eager.connection, plain) == set(plain)
    assert _queryable(lazy.connection, plain) == set()
    # curves reads _metric_values: naming the first creates both, and nothing else.
    sql = "select trial, metric, phase, epoch, value, n_splits from curves order by all"
    assert lazy.fetch(sql).fetchall() == eager.fetch(sql).fetchall() != []
    assert _queryable(lazy.connection, plain) == {"curves", "_metric_values"}
    assert lazy.run("cli_summary").fetchall() == eager.run("cli_summary").fetchall()
    for session in (lazy, computing):
        for name in ("trials", "rounds", "splits", "_success_curves", "curves"):
            sql = f"select * from {name} order by all"
            assert session.fetch(sql).fetchall() == eager.fetch(sql).fetchall(), name
    lazy.refresh()
    sql = "select count(*) from curves"
    assert lazy.fetch(sql).fetchall() == eager.fetch(sql).fetchall()
    for session in (computing, eager, lazy):
        session.close()


@pytest.mark.parametrize(
    "listing",
    [
        "show tables",
        "SHOW ALL TABLES",
        "select view_name from duckdb_views()",
        "select table_name from information_schema.tables",
    ],
)
def test_a_query_listing_the_catalog_sees_every_view_on_demand(
    tmp_path: Path, listing: str
) -> None:
    root = ROOTS["parquet"](tmp_path)
    RoundWriter(root).trial({"lr": 0.5}, [split([0.5, 0.25])])
    root.close()
    QuerySession.open(root.repository.location).close()  # caches the round
    lazy = QuerySession.open(root.repository.location, views_on_demand=True)
    assert _queryable(lazy.connection, ("curves",)) == set()
    listed = {c for row in lazy.fetch(listing).fetchall() for c in row if isinstance(c, str)}
    assert {"curves", "_metric_values", "_success_curves"} <= listed
    lazy.close()
