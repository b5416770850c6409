"""The SQL box refuses everything but one read-only SELECT over the views, at each lock."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from arrowscope.ui import sqlbox
from arrowscope.ui.live import LiveData
from arrowscope.ui.sqlbox import Sandbox, SqlRefused, check, sandbox_connection

REFUSED = {
    # statement types
    "copy": ("copy (select 1) to '/tmp/arrowscope-x.csv'", "COPY"),
    "copy from view": ("copy trials to '/tmp/arrowscope-x.parquet'", "COPY"),
    "attach": ("attach '/tmp/arrowscope-x.db'", "ATTACH"),
    "detach": ("detach memory", "DETACH"),
    "install": ("install httpfs", "LOAD"),
    "load": ("load json", "LOAD"),
    "set": ("set enable_external_access = true", "SET"),
    "reset": ("reset memory_limit", "SET"),
    "pragma": ("pragma database_list", "PRAGMA"),
    "call": ("call pragma_version()", "CALL"),
    "create": ("create table t as select 1", "CREATE"),
    "create secret": ("create secret (type s3)", "CREATE"),
    "insert": ("insert into trials values (1)", "INSERT"),
    "update": ("update trials set score = 0", "UPDATE"),
    "delete": ("delete from trials", "DELETE"),
    "drop": ("drop view trials", "DROP"),
    "export": ("export database '/tmp/arrowscope-x'", "EXPORT"),
    "checkpoint": ("checkpoint", "CALL"),
    "two statements": ("select 1; copy (select 1) to 'x.csv'", "one statement"),
    # file-reading table functions and replacement scans
    "read_csv": ("select * from read_csv('/etc/passwd')", "read_csv"),
    "read_text": ("select * from read_text('/etc/passwd')", "read_text"),
    "read_blob": ("select * from read_blob('/etc/passwd')", "read_blob"),
    "read_parquet": ("select * from read_parquet('/tmp/*.parquet')", "read_parquet"),
    "read_json": ("select * from read_json_auto('/etc/x.json')", "read_json_auto"),
    "glob": ("select * from glob('/etc/*')", "glob"),
    "query_table": ("select * from query_table('trials')", "query_table"),
    "query": ("select * from query('select 1')", "query"),
    "duckdb_settings": ("select * from duckdb_settings()", "duckdb_settings"),
    "file as table": ("select * from '/etc/passwd'", "/etc/passwd"),
    "csv as table": ("from 'runs.csv'", "runs.csv"),
    "file in a join": ("select * from trials, '/etc/hosts'", "/etc/hosts"),
    "file in a subquery": ("select (select count(*) from '/etc/hosts')", "/etc/hosts"),
    "file-like CTE": ('with "/etc/passwd" as (select 1) select * from "/etc/passwd"', "CTE"),
    "schema-qualified": ("select * from information_schema.tables", "information_schema"),
    "another catalog": ("select * from system.main.duckdb_settings", "not a view"),
    # functions that reveal the process
    "getvariable": ("select getvariable('arrowscope_metrics_files')", "getvariable"),
    "current_setting": ("select current_setting('home_directory')", "current_setting"),
}

ALLOWED = {
    "view": ("select trial, score from trials", {"trials"}),
    "join": ("select * from params p join trials t using (trial)", {"params", "trials"}),
    "cte": ("with best as (select * from rounds) select * from best", {"rounds"}),
    "range": ("select * from range(3)", set()),
    "unnest": ("select unnest([1, 2])", set()),
    "describe": ("describe trials", {"trials"}),
    "catalog": ("from catalog", {"catalog"}),
    "upper case": ("SELECT * FROM METRICS", {"metrics"}),
}


@pytest.fixture(scope="module")
def parser() -> duckdb.DuckDBPyConnection:
    return sandbox_connection()


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_check_refuses(parser: duckdb.DuckDBPyConnection, case: str) -> None:
    query, said = REFUSED[case]
    with pytest.raises(SqlRefused, match=said.replace("(", r"\(")):
        check(parser, query)


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_check_allows_reading_the_views(parser: duckdb.DuckDBPyConnection, case: str) -> None:
    query, views = ALLOWED[case]
    assert check(parser, query) == views


@pytest.mark.parametrize(
    "statement",
    [
        "select * from read_text('/etc/passwd')",
        "select * from read_csv('/etc/passwd')",
        "select * from '/etc/hosts'",
        "copy (select 42) to '{tmp}/out.csv'",
        "attach '{tmp}/x.db'",
        "install httpfs",
        "load httpfs",
        "set enable_external_access = true",
        "set lock_configuration = false",
    ],
)
def test_the_sandbox_itself_cannot_touch_files_or_settings(statement: str, tmp_path: Path) -> None:
    """Even a query that got past the checks could not read, write or reconfigure anything."""
    con = sandbox_connection()
    with pytest.raises(duckdb.Error):
        con.execute(statement.format(tmp=tmp_path)).fetchall()
    assert list(tmp_path.iterdir()) == []


def test_sandbox_runs_over_snapshots_of_the_views(ui_data: Path) -> None:
    data = LiveData(ui_data)
    data.open()
    box = Sandbox(data)
    try:
        answer = box.run("select count(*) as n, max(trial) as last from trials", limit=10)
        assert answer["columns"] == ["n", "last"] and answer["rows"][0][0] >= 18
        assert box.run("select * from range(25)", limit=10)["truncated"] is True
        lines = list(box.csv_lines("select range as i from range(3)"))
        assert lines == [["i"], [0], [1], [2]]
        with pytest.raises(SqlRefused, match="no_such_column"):
            box.run("select no_such_column from trials")
        assert box.run("select 'NaN'::double as x")["rows"] == [["NaN"]]
    finally:
        box.close()
        data.close()


def test_a_query_past_its_time_is_interrupted(ui_data: Path) -> None:
    data = LiveData(ui_data)
    data.open()
    box = Sandbox(data, timeout=0.2)
    try:
        with pytest.raises(SqlRefused, match="longer than"):
            box.run("select count(*) from range(1000000) a, range(1000000) b")
    finally:
        box.close()
        data.close()


def test_readable_views_are_the_public_ones() -> None:
    assert {"metrics", "events", "rounds", "trials", "splits", "curves", "params"} < sqlbox.READABLE
