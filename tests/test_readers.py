"""``arrowscope.scan`` and the README's recipes for plain DuckDB and polars."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

import arrowscope as asc
from _scopes import stub
from arrowscope.readers import HIVE_TYPES, hive_schema
from arrowscope.schema import full_schema

# Names every reader would type wrongly by inference: int, bool, float, NaN, null.
LOOKALIKES = [("001", "true"), ("1e5", "NaN"), ("NULL", "-0")]


def write_rounds(path: Path, names: list[tuple[str, str]]) -> None:
    root = asc.Root.at(path)
    for project, client in names:
        with root.get_project(project) as p, p.get_client(client) as c, c.new_round("m") as r:
            stub(r, {"lr": 0.5})
            with r.new_rvs_trial() as t, t.new_validation_split() as s:
                with s.managed_metric("m", True) as m:
                    m.add_valid_results([0.5, 0.25])
    root.close()


def test_scan_types_the_partition_columns_as_written(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_rounds(runs, LOOKALIKES)
    frame = asc.scan(runs).collect()
    assert frame.columns[:3] == ["project", "client", "round"]
    assert frame.schema["project"] == pl.String and frame.schema["client"] == pl.String
    assert frame.schema["round"] == pl.Int32
    found = frame.group_by("project", "client", "round").len().sort("project").rows()
    assert found == [("001", "true", 0, 2), ("1e5", "NaN", 0, 2), ("NULL", "-0", 0, 2)]
    events = asc.scan(runs, "events").collect()
    assert set(events["client"]) == {"true", "NaN", "-0"}
    catalog = asc.scan(runs, table="catalog").collect()
    assert catalog.schema["project"] == pl.String and catalog.height == 6


@pytest.mark.parametrize("names", [LOOKALIKES[:1], LOOKALIKES[1:2]], ids=["001-true", "1e5-NaN"])
def test_the_readme_recipes_keep_names_as_text(
    tmp_path: Path, names: list[tuple[str, str]]
) -> None:
    runs = tmp_path / "runs"
    write_rounds(runs, names)
    glob = str(runs / "metrics" / "**" / "*.parquet")
    untyped = pl.scan_parquet(glob, hive_partitioning=True).select("project").collect()
    assert untyped.schema["project"] != pl.String  # why the recipe gives the types
    frame = pl.scan_parquet(glob, hive_partitioning=True, hive_schema=hive_schema()).collect()
    assert frame.select("project", "client", "round").unique().rows() == [(*names[0], 0)]
    types = "{" + ", ".join(f"'{k}': '{v}'" for k, v in HIVE_TYPES.items()) + "}"
    rows = duckdb.sql(
        f"select distinct project, client, round, typeof(round) from read_parquet($glob, "
        f"hive_partitioning = true, hive_types = {types})",
        params={"glob": glob},
    ).fetchall()
    assert rows == [(*names[0], 0, "INTEGER")]


def test_scan_reads_a_directory_whatever_its_path_holds(tmp_path: Path) -> None:
    runs = tmp_path / "x=1" / "it's [runs]*?"  # a hive-like parent and glob characters
    write_rounds(runs, [("p", "c")])
    (runs / "metrics" / "project=p" / "client=c" / "round=0" / "notes.txt").write_text("hi")
    frame = asc.scan(runs).collect()
    assert frame.select("project", "client", "round", "value").rows() == [
        ("p", "c", 0, 0.5),
        ("p", "c", 0, 0.25),
    ]
    assert "x" not in frame.columns


def test_scan_of_an_empty_directory_has_the_columns(tmp_path: Path) -> None:
    frame = asc.scan(tmp_path).collect()
    assert frame.height == 0
    assert frame.columns == full_schema("metrics").names
    assert frame.schema["round"] == pl.Int32 and frame.schema["value"] == pl.Float64


def test_scan_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no arrowscope data directory"):
        asc.scan(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        asc.scan(tmp_path / "file")
    with pytest.raises(ValueError, match="unknown table 'trials'"):
        asc.scan(tmp_path, "trials")
