"""Name rules, and names round-tripped through Parquet partitions into DuckDB and polars."""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from arrowscope.errors import InvalidNameError
from arrowscope.location import ScopedLocation, encode_partition_value, validate_name
from arrowscope.store import ParquetRepository

REJECTED = [
    ("", "must not be empty"),
    ("a/b", "must not contain '/'"),
    ("a\\b", "must not contain '\\\\\\\\'"),
    ("a=b", "must not contain '='"),
    ("nul\x00", "control characters"),
    ("line\nbreak", "control characters"),
    ("tab\there", "control characters"),
    ("bell\x07", "control characters"),
    (".", "'.' or '..'"),
    ("..", "'.' or '..'"),
    (" leading", "blanks"),
    ("trailing ", "blanks"),
    ("x" * 129, "at most 128 characters"),
    ("😀" * 21, "at most 240 bytes once percent-encoded"),
    ("漢" * 81, "this one takes 243"),
    ("lone \ud800 surrogate", "control characters"),
    ("__HIVE_DEFAULT_PARTITION__", "reserved"),
    (3, "must be a str"),
    (None, "must be a str"),
]

ROUND_TRIPPED = [
    "plain",
    "with space",
    "ünïcødé",
    "日本語のプロジェクト",
    "emoji 🚀",
    "it's",
    'say "hi"',
    "100%",
    "%20",
    "%2F",
    "'; drop table x; --",
    "NULL",
    "null",
    "001",
    "-1",
    "a*b?[c]{d}",
    "v1.2",
    "a+b&c,d;e",
    "#hash~tilde",
    "...",
    "x" * 128,
    "😀" * 20,
    "漢" * 80,
    "NaN",
    "true",
    "1e5",
]
HIVE_TYPES = "{'project': 'VARCHAR', 'client': 'VARCHAR', 'round': 'INTEGER'}"
POLARS_HIVE = {"project": pl.String, "client": pl.String, "round": pl.Int32}


@pytest.mark.parametrize(("name", "rule"), REJECTED, ids=repr)
def test_invalid_names_are_rejected_naming_value_and_rule(name: object, rule: str) -> None:
    with pytest.raises(InvalidNameError, match=rule) as caught:
        validate_name(name, "project")
    assert caught.value.name == name
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ROUND_TRIPPED, ids=repr)
def test_valid_names_pass_and_encode_to_a_single_safe_directory(name: str) -> None:
    assert validate_name(name) == name
    encoded = encode_partition_value(name)
    assert "/" not in encoded and "\\" not in encoded and "=" not in encoded
    assert not set(encoded) & set("*?[]{}")


def test_the_parquet_repository_refuses_unsafe_names(data_dir: Path) -> None:
    repo = ParquetRepository(data_dir)
    with pytest.raises(InvalidNameError, match=re.escape("'..'")):
        repo.create("..")
    with pytest.raises(InvalidNameError, match="'/'"):
        repo.allocate("p", "../c")
    with pytest.raises(InvalidNameError, match="control"):
        repo.metric_buffer(("p\nq", "c", 0), 0, 0, "m")
    with pytest.raises(ValueError, match="round number"):
        repo.append_event(("p", "c", -1), level="round")
    repo.close()
    assert sorted(p.name for p in data_dir.iterdir()) == []


def _write_one_row(root: Path, name: str) -> None:
    repo = ParquetRepository(root)
    assert repo.create(name) and repo.create(name, name)
    key = (name, name, repo.allocate(name, name))
    buffer = repo.metric_buffer(key, trial=0, split=0, metric=name)
    buffer.valid.append(0.25)
    buffer.valid_at.append(time.time_ns())
    repo.release_buffer(key, buffer)
    repo.close()
    again = ParquetRepository(root)
    assert again.list_names() == [name] and again.list_names(name) == [name]
    assert again.list_ids(name, name) == [0]
    again.close()


@pytest.mark.parametrize("name", ROUND_TRIPPED, ids=repr)
def test_names_round_trip_through_duckdb(data_dir: Path, name: str) -> None:
    _write_one_row(data_dir, name)
    glob = str(data_dir / "metrics" / "**" / "*.parquet")
    with duckdb.connect() as con:
        rows = con.sql(
            "SELECT project, client, round, metric FROM read_parquet("
            f"$glob, hive_partitioning = true, hive_types = {HIVE_TYPES})",
            params={"glob": glob},
        ).fetchall()
        catalog = con.sql(
            "SELECT project, client FROM read_parquet($glob, hive_partitioning = true, "
            "hive_types = {'project': 'VARCHAR'}) ORDER BY client NULLS FIRST",
            params={"glob": str(data_dir / "catalog" / "**" / "*.parquet")},
        ).fetchall()
    assert rows == [(name, name, 0, name)]
    assert catalog == [(name, None), (name, name)]


@pytest.mark.parametrize("name", ROUND_TRIPPED, ids=repr)
def test_names_round_trip_through_polars(data_dir: Path, name: str) -> None:
    _write_one_row(data_dir, name)
    frame = pl.scan_parquet(
        str(data_dir / "metrics" / "**" / "*.parquet"),
        hive_partitioning=True,
        hive_schema=POLARS_HIVE,
    ).collect()
    assert frame.select("project", "client", "round", "metric").rows() == [(name, name, 0, name)]


def test_a_child_location_is_the_location_built_from_its_ids() -> None:
    trial = ScopedLocation("p", "c", 0).child(3)
    assert trial == ScopedLocation("p", "c", 0, 3) and hash(trial) == hash(
        ScopedLocation("p", "c", 0, 3)
    )
    assert trial.level == "trial" and trial.child(1).child("loss") == ScopedLocation(
        "p", "c", 0, 3, 1, "loss"
    )
    with pytest.raises(ValueError, match="needs an id"):
        trial.child(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no children"):
        ScopedLocation("p", "c", 0, 3, 1, "loss").child(0)
