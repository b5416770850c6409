"""The S3 test server (``_s3server``): hive Parquet written with pyarrow, read back
with DuckDB and polars, and conditional creates refused with 412."""

from __future__ import annotations

from urllib.parse import unquote

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from pyarrow.fs import FileSelector, FileType

from _s3server import S3Bucket

pytestmark = pytest.mark.slow  # a server process

PARTITIONING = ds.partitioning(
    pa.schema([("project", pa.string()), ("client", pa.string()), ("round", pa.int32())]),
    flavor="hive",
)


def _rows() -> pa.Table:
    return pa.table(
        {
            "project": ["001", "001", "vision x"] * 2,
            "client": ["c", "c", "résumé"] * 2,
            "round": pa.array([0, 1, 0] * 2, pa.int32()),
            "trial": pa.array([0, 1, 2, 3, 4, 5], pa.int32()),
            "value": [0.5, 0.25, 0.125, 1.0, 2.0, 4.0],
        }
    )


def test_hive_parquet_round_trips_through_pyarrow_duckdb_and_polars(s3_bucket: S3Bucket) -> None:
    fs = s3_bucket.server.filesystem()
    base = f"{s3_bucket.name}/metrics"
    ds.write_dataset(_rows(), base, filesystem=fs, format="parquet", partitioning=PARTITIONING)

    listed = fs.get_file_info(FileSelector(base, recursive=True))
    files = sorted(i.path[len(base) + 1 :] for i in listed if i.type == FileType.File)
    dirs = sorted({unquote(f.rsplit("/", 1)[0]) for f in files})  # pyarrow %-encodes values
    assert dirs == [
        "project=001/client=c/round=0",
        "project=001/client=c/round=1",
        "project=vision x/client=résumé/round=0",
    ]
    assert all(f.endswith(".parquet") for f in files)

    # DuckDB here has no httpfs: it reads the pyarrow dataset it is handed.
    con = duckdb.connect()
    con.register("metrics", ds.dataset(base, filesystem=fs, partitioning=PARTITIONING))
    got = con.sql(
        "select project, client, round, sum(value) from metrics group by all order by all"
    ).fetchall()
    assert got == [("001", "c", 0, 1.5), ("001", "c", 1, 2.25), ("vision x", "résumé", 0, 4.125)]

    lazy = pl.scan_parquet(
        f"{s3_bucket.uri}/metrics/**/*.parquet",
        hive_partitioning=True,
        hive_schema={"project": pl.String, "client": pl.String, "round": pl.Int32},
        storage_options=s3_bucket.server.polars_options(),
    )
    frame = lazy.group_by("project", "client", "round").agg(pl.col("value").sum()).collect()
    assert sorted(frame.rows()) == got


def test_conditional_create_refuses_an_existing_key(s3_bucket: S3Bucket) -> None:
    from botocore.exceptions import ClientError

    client = s3_bucket.server.client()
    client.put_object(Bucket=s3_bucket.name, Key="_ids/trial-0", Body=b"a", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=s3_bucket.name, Key="_ids/trial-0", Body=b"b", IfNoneMatch="*")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    body = client.get_object(Bucket=s3_bucket.name, Key="_ids/trial-0")["Body"].read()
    assert body == b"a"


def test_s3_env_points_boto3_at_the_server(s3_env: S3Bucket) -> None:
    import boto3

    client = boto3.client("s3")  # endpoint, credentials and region from the environment
    client.put_object(Bucket=s3_env.name, Key="hello.txt", Body=b"hello")
    fs = s3_env.server.filesystem()
    with fs.open_input_stream(f"{s3_env.name}/hello.txt") as stream:
        assert stream.read() == b"hello"
