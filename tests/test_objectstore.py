"""``ObjectStoreRepository`` on a real S3 server (SeaweedFS, ``_s3server``), in this process.

* The repository contract (``test_repository_contract``) and a selection of the
  SPEC scenarios (``test_scenarios``) run again on ``s3://<bucket>/runs``.
* What only object storage has: a second writer with its own spool (another
  machine) sees uploaded parts, claims numbers and names exactly once,
  compaction on either machine keeps counts exact, and plain polars reads the
  bucket.
* Configuration errors: one line naming the URI; unknown schemes; no local
  ``s3:`` directory.
* An endpoint that goes away under a writer (a relay cut, ``Relay``) loses
  nothing: reads answer from the spool, the parts wait there, and the next
  process opening the store with that spool uploads them.
* A writer whose heartbeat stops is ended ABORTED by the next one to open the store.

Real processes (kill -9, dead machines, races, Dask, process pools) are in
``test_objectstore_processes``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pytest
from tests._workers import read_table

import arrowscope as asc
import test_repository_contract as contract
import test_scenarios as scenarios
from _s3server import S3Bucket, S3Server
from _scopes import run_trial
from arrowscope.errors import HousekeepingWarning, StorageConfigError
from arrowscope.query import session_of
from arrowscope.store import Repository, RoundKey, open_repository
from arrowscope.store.objectstore import _PULL_EVERY as PULL_EVERY
from arrowscope.store.objectstore import ObjectStoreRepository

pytestmark = pytest.mark.slow  # a server process

KEY: RoundKey = ("vision", "resnet", 0)
_Closable = TypeVar("_Closable")


def _repo(bucket: S3Bucket, spool: Path, **options: object) -> ObjectStoreRepository:
    """A repository on ``<bucket>/runs`` (the server's credentials) writing through ``spool``."""
    server = bucket.server
    storage = {
        "endpoint_url": server.endpoint_url,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
    }
    options.setdefault("flush_interval", 3600)
    return ObjectStoreRepository(
        f"{bucket.uri}/runs",
        storage_options=storage,
        spool=spool,
        **options,  # type: ignore[arg-type]
    )


def _keys(bucket: S3Bucket, prefix: str = "runs/") -> list[str]:
    client = bucket.server.client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _polars_metrics(bucket: S3Bucket) -> pl.DataFrame:
    return pl.scan_parquet(
        f"{bucket.uri}/runs/metrics/**/*.parquet",
        hive_partitioning=True,
        storage_options=bucket.server.polars_options(),
    ).collect()


Later = Callable[[_Closable], _Closable]


@pytest.fixture
def later() -> Iterator[Later]:
    """``later(x)`` returns ``x`` and closes it after the test (repositories, query sessions)."""
    opened: list[Any] = []

    def close_later(thing: _Closable) -> _Closable:
        opened.append(thing)
        return thing

    yield close_later
    for thing in reversed(opened):
        thing.close()


# -- the repository contract, on S3 ----------------------------------------------------
@pytest.fixture
def repository(s3_bucket: S3Bucket, tmp_path: Path) -> Iterator[Repository]:
    """Overrides conftest's: one S3 repository, for the contract tests imported below."""
    repo = _repo(s3_bucket, tmp_path / "spool")
    yield repo
    repo.close()


test_metric_rows_read_back_exactly_before_and_after_flush = (
    contract.test_metric_rows_read_back_exactly_before_and_after_flush
)
test_epochs_are_contiguous_and_continue_after_offsets = (
    contract.test_epochs_are_contiguous_and_continue_after_offsets
)
test_rows_of_an_open_buffer_appear_once_across_flushes = (
    contract.test_rows_of_an_open_buffer_appear_once_across_flushes
)
test_nan_and_infinities_are_stored_as_given = contract.test_nan_and_infinities_are_stored_as_given
test_events_get_time_writer_and_increasing_seq = (
    contract.test_events_get_time_writer_and_increasing_seq
)
test_ids_are_dense_from_zero_per_parent = contract.test_ids_are_dense_from_zero_per_parent
test_create_is_idempotent_and_names_are_listed_sorted = (
    contract.test_create_is_idempotent_and_names_are_listed_sorted
)
test_close_keeps_everything_readable = contract.test_close_keeps_everything_readable
test_writing_after_close_still_works = contract.test_writing_after_close_still_works
test_claim_takes_one_exact_number_once = contract.test_claim_takes_one_exact_number_once


# -- SPEC scenarios on S3 --------------------------------------------------------------
@pytest.fixture
def kind() -> str:
    """Overrides ``test_scenarios``'s: its tests imported below run on S3 only."""
    return "s3"


@pytest.fixture
def root(s3_bucket: S3Bucket, tmp_path: Path) -> Iterator[asc.Root]:
    root = asc.Root.from_repo(None, _repo(s3_bucket, tmp_path / "spool", flush_interval=0.5))
    yield root
    root.close()


@pytest.fixture(autouse=True)
def _reopen_on_another_machine(
    monkeypatch: pytest.MonkeyPatch, s3_bucket: S3Bucket, tmp_path: Path
) -> Iterator[None]:
    """``reopen`` in the scenarios: close, then open the bucket through a new, empty spool."""
    opened: list[asc.Root] = []

    def reopen(root: asc.Root, kind: str, path: Path) -> asc.Root:
        assert kind == "s3"
        root.close()
        spool = tmp_path / f"spool-reopened-{len(opened)}"
        opened.append(asc.Root.from_repo(None, _repo(s3_bucket, spool, flush_interval=0.5)))
        return opened[-1]

    monkeypatch.setattr(scenarios, "reopen", reopen)
    yield
    for again in opened:
        again.close()


test_s1_defaults_nesting_ids_lengths = scenarios.test_s1_defaults_nesting_ids_lengths
test_s2_fresh_store_and_resume_on_empty_client = (
    scenarios.test_s2_fresh_store_and_resume_on_empty_client
)
test_s3_named_project_and_client = scenarios.test_s3_named_project_and_client
test_s5_resume_last_round_and_optim_round = scenarios.test_s5_resume_last_round_and_optim_round
test_s10_failing_split_without_continue = scenarios.test_s10_failing_split_without_continue
test_s13_keyboard_interrupt = scenarios.test_s13_keyboard_interrupt


# -- two machines on one bucket ----------------------------------------------------------
def test_checkpointed_parts_are_seen_by_another_machine_and_polars(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    first = _repo(s3_bucket, tmp_path / "a")
    first.create("vision", "resnet")
    expected = contract.log_values(first, KEY, 0, 0, "acc", n=5)
    first.append_event(KEY, level="trial", trial=0, status="SUCCESS")
    first.flush()
    other = _repo(s3_bucket, tmp_path / "b")
    assert contract.metric_rows(other) == []  # in the first machine's log only: not uploaded
    first.checkpoint()
    time.sleep(PULL_EVERY)  # a reader downloads new parts at most this often
    assert contract.metric_rows(other) == contract.as_us(expected)
    assert read_table(other, "events")["status"].to_pylist() == ["SUCCESS"]
    assert other.list_names() == ["vision"] and other.list_names("vision") == ["resnet"]
    assert all(f.startswith(str(tmp_path / "b")) for f in other.parquet_files("metrics"))
    # Plain readers of the bucket see the same rows, partition columns included.
    frame = _polars_metrics(s3_bucket)
    assert frame.height == len(expected)
    assert set(frame["project"]) == {"vision"} and set(frame["round"]) == {0}
    assert sorted(frame["value"]) == sorted(r[8] for r in expected)  # type: ignore[type-var]
    first.close()
    other.close()
    # A clean close deletes the writers' heartbeats; nothing is left in a spool's log.
    assert not [k for k in _keys(s3_bucket) if k.endswith(".json")]
    assert not list((tmp_path / "a").glob("**/*.aslog"))


def test_two_machines_share_numbers_and_names_exactly_once(
    s3_bucket: S3Bucket, tmp_path: Path, later: Later
) -> None:
    a, b = _repo(s3_bucket, tmp_path / "a"), _repo(s3_bucket, tmp_path / "b")
    assert a.create("p") is True and b.create("p") is False
    assert b.create("p", "c") is True and a.create("p", "c") is False
    assert a.list_names("p") == b.list_names("p") == ["c"]
    numbers = [repo.allocate("p", "c", 0) for repo in (a, b, a, b, b, a)]
    assert sorted(numbers) == list(range(6))
    assert a.claim("p", "c", None, 0) and not b.claim("p", "c", None, 0)
    assert b.allocate("p", "c") == 1 and a.allocate("p", "c") == 2
    assert a.list_ids("p", "c") == b.list_ids("p", "c") == [0, 1, 2]
    a.close()
    b.close()
    catalog = read_table(later(_repo(s3_bucket, tmp_path / "c")), "catalog")
    assert catalog.num_rows == 2  # one row per name, written by the machine that won it


def test_compaction_on_either_machine_keeps_counts_exact(
    s3_bucket: S3Bucket, tmp_path: Path, later: Later
) -> None:
    a = _repo(s3_bucket, tmp_path / "a", auto_compact_parts=0)
    b = _repo(s3_bucket, tmp_path / "b", auto_compact_parts=0)
    expected = []
    for step in range(4):
        for repo in (a, b):
            trial = repo.allocate(*KEY)
            expected += contract.log_values(repo, KEY, trial, 0, "acc", n=3 + step)
            repo.flush()
            repo.checkpoint()  # one part per checkpoint
    parts = [k for k in _keys(s3_bucket, "runs/metrics/") if k.endswith(".parquet")]
    assert len(parts) == 8
    assert a.compact() > 0
    time.sleep(PULL_EVERY)
    merged = [k for k in _keys(s3_bucket, "runs/metrics/") if k.endswith(".parquet")]
    assert 1 <= len(merged) < len(parts)
    for repo in (a, b, later(_repo(s3_bucket, tmp_path / "c"))):
        assert contract.metric_rows(repo) == contract.as_us(expected)
    assert _polars_metrics(s3_bucket).height == len(expected)
    # The other machine writes on, then compacts what the first one merged.
    trial = b.allocate(*KEY)
    expected += contract.log_values(b, KEY, trial, 1, "loss", n=2)
    b.flush()
    b.checkpoint()
    b.compact()
    time.sleep(PULL_EVERY)
    for repo in (a, b, later(_repo(s3_bucket, tmp_path / "d"))):
        assert contract.metric_rows(repo) == contract.as_us(expected)
    assert _polars_metrics(s3_bucket).height == len(expected)
    a.close()
    b.close()


def test_scope_api_on_s3_through_root_at_and_connect(
    s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: Later
) -> None:
    """``Root.at`` and ``connect`` on an ``s3://`` URI, set up by AWS_* and $ARROWSCOPE_SPOOL."""
    uri = f"{s3_env.uri}/runs"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARROWSCOPE_SPOOL", str(tmp_path / "machine-a"))
    root = asc.Root.at(uri, flush_interval=0.5)
    assert isinstance(root.repository, ObjectStoreRepository)
    assert root.repository.location == uri
    with root.get_project("vision") as p, p.get_client("resnet") as c, c.new_round("mse") as r:
        run_trial(r, {"lr": 0.1}, [0.5, 0.25])
        run_trial(r, {"lr": 0.2}, [0.125])
    root.close()
    assert list((tmp_path / "machine-a").iterdir())  # the spool: one directory per URI
    assert not list(tmp_path.glob("s3*"))  # nothing local is named after the URI
    monkeypatch.setenv("ARROWSCOPE_SPOOL", str(tmp_path / "machine-b"))
    db = asc.connect(uri)
    later(session_of(db))
    trials = db.sql("select trial, status, score from trials order by trial").fetchall()
    assert trials == [(0, "SUCCESS", 0.25), (1, "SUCCESS", 0.125)]
    assert db.sql("select best_trial from rounds").fetchall() == [(1,)]
    again = asc.Root.at(uri)
    assert again["vision"]["resnet"][0].get_best_trial_id() == 1
    again.close()
    assert not list(tmp_path.glob("s3*"))


# -- configuration errors --------------------------------------------------------------
def _one_line_error(uri: str, **options: object) -> str:
    with pytest.raises(StorageConfigError) as caught:
        ObjectStoreRepository(uri, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{uri}: ")
    return message


def test_bad_configuration_fails_at_open_in_one_line(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    server = s3_bucket.server
    good = {
        "endpoint_url": server.endpoint_url,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "region": server.region,
    }
    uri = f"{s3_bucket.uri}/runs"
    spool = tmp_path / "spool"

    wrong_secret = {**good, "secret_access_key": "not-the-secret"}
    message = _one_line_error(uri, storage_options=wrong_secret, spool=spool)
    assert "refused the credentials" in message and "AWS_SECRET_ACCESS_KEY" in message

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    message = _one_line_error(uri, storage_options={**good, "endpoint_url": closed}, spool=spool)
    assert f"cannot reach {closed}" in message and "AWS_ENDPOINT_URL" in message

    missing = "s3://no-such-bucket-arrowscope/runs"
    message = _one_line_error(missing, storage_options=good, spool=spool)
    assert "'no-such-bucket-arrowscope' does not exist" in message

    client = server.client()
    client.put_object(Bucket=s3_bucket.name, Key="data/train.csv", Body=b"x,y\n")
    client.put_object(Bucket=s3_bucket.name, Key="data/models/m.bin", Body=b"0")
    message = _one_line_error(f"{s3_bucket.uri}/data", storage_options=good, spool=spool)
    assert "arrowscope did not write" in message and "models" in message
    message = _one_line_error(s3_bucket.uri, storage_options=good, spool=spool)  # the bucket's top
    assert "(data)" in message
    # Nothing was written anywhere: no spool content, no object.
    assert not list(spool.glob("**/*.aslog"))
    assert sorted(_keys(s3_bucket, "")) == ["data/models/m.bin", "data/train.csv"]
    # A prefix next to the foreign objects is fine.
    _repo(s3_bucket, spool).close()


def test_configuration_errors_through_root_at_and_connect(
    s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARROWSCOPE_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    uri = f"{s3_env.uri}/runs"
    for opener in (asc.Root.at, asc.connect, open_repository):
        with pytest.raises(StorageConfigError, match=r"refused the credentials") as caught:
            opener(uri)
        assert caught.value.uri == uri and "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=r"'gs'.*file://, memory://, s3://"):
        asc.Root.at("gs://bucket/runs")
    with pytest.raises(ValueError, match=r"'gs'.*file://, memory://, s3://"):
        asc.connect("gs://bucket/runs")
    assert not [p.name for p in tmp_path.iterdir() if p.name != "spool"]  # no "s3:" nor "gs:"


def test_object_store_options_are_checked(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dead_after > heartbeat_interval"):
        _repo(s3_bucket, tmp_path / "spool", heartbeat_interval=5.0, dead_after=5.0)
    with pytest.raises(ValueError, match="unknown storage option 'endpoint_uri'"):
        ObjectStoreRepository(f"{s3_bucket.uri}/runs", storage_options={"endpoint_uri": "x"})
    with pytest.raises(ValueError, match="is not an S3 URI"):
        ObjectStoreRepository("s3:///runs", storage_options={"endpoint_url": "http://x"})


# -- failed uploads lose nothing ---------------------------------------------------------
class Relay:
    """A TCP relay to the S3 server that can be cut and restored: the endpoint going away.

    While cut, nothing listens on its port (connections are refused) and the
    connections it relayed are closed.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.restore()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.fixture
def relay(s3_server: S3Server) -> Iterator[Relay]:
    relay = Relay((s3_server.host, s3_server.port))
    yield relay
    relay.cut()


def test_rows_logged_while_the_endpoint_is_gone_wait_in_the_spool(
    s3_bucket: S3Bucket, tmp_path: Path, relay: Relay
) -> None:
    """The endpoint goes away under a writer: nothing logged is lost, and it is uploaded later."""
    server = s3_bucket.server
    through_relay = {
        "endpoint_url": relay.endpoint_url,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
    }
    spool = tmp_path / "spool"
    uri = f"{s3_bucket.uri}/runs"
    repo = ObjectStoreRepository(
        uri, storage_options=through_relay, spool=spool, flush_interval=3600
    )
    repo.create("vision", "resnet")
    assert repo.allocate(*KEY) == 0
    expected = contract.log_values(repo, KEY, 0, 0, "acc", n=4)
    repo.append_event(KEY, level="trial", trial=0, status="SUCCESS")
    relay.cut()

    repo.flush()  # logging and the log need no network
    expected += contract.log_values(repo, KEY, 0, 1, "acc", n=2)
    with pytest.warns(HousekeepingWarning, match="uploading parts failed.*stay in the local spool"):
        repo.checkpoint()
    with pytest.raises(OSError):  # numbers are claimed on the bucket: that needs the endpoint
        repo.allocate(*KEY)
    with pytest.warns(HousekeepingWarning, match="uploading parts failed"):
        repo.close()
    assert list(spool.glob("metrics/**/*.parquet")), "the rows must stay in the spool"
    assert not list(spool.glob("**/*.aslog"))
    assert contract.metric_rows(repo) == contract.as_us(expected)  # and read here as before
    assert not _keys(s3_bucket, "runs/metrics/")

    relay.restore()  # the endpoint is back: the next process of this machine uploads the spool
    again = ObjectStoreRepository(
        uri, storage_options=through_relay, spool=spool, flush_interval=3600
    )
    elsewhere = _repo(s3_bucket, tmp_path / "elsewhere")
    assert contract.metric_rows(elsewhere) == contract.as_us(expected)
    assert read_table(elsewhere, "events")["status"].to_pylist() == ["SUCCESS"]
    assert _polars_metrics(s3_bucket).height == len(expected)
    assert again.allocate(*KEY) == 1
    again.close()
    elsewhere.close()


def test_a_dead_writers_heartbeat_on_the_bucket_ends_its_trial(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """In-process version of a dead machine: a writer that stops beating without closing."""
    lost = _repo(s3_bucket, tmp_path / "lost", heartbeat_interval=0.2, dead_after=1.0)
    key: RoundKey = ("p", "c", lost.allocate("p", "c"))
    lost.append_event(key, level="round", main_metric_name="mse")
    lost.append_event(key, level="trial", trial=0, status="RUNNING", hyperparams="{}")
    contract.log_values(lost, key, 0, 0, "mse", n=2)
    lost.flush()
    lost.checkpoint()
    assert lost._heartbeat is not None
    lost._heartbeat.stop(remove=False)  # the machine is gone: no beat, no close
    lost._heartbeat = None
    time.sleep(2.2)  # the server's listings give whole seconds
    survivor = _repo(s3_bucket, tmp_path / "survivor", heartbeat_interval=0.2, dead_after=1.0)
    ((status, error),) = asc.connect(survivor).sql("select status, error from trials").fetchall()
    assert status == "ABORTED"
    assert error.startswith(f"WriterDied: the process writing this trial, writer {lost.writer_id}")
    keys = _keys(s3_bucket, "runs/_writers/")
    assert f"runs/_writers/{lost.writer_id}.aborted" in keys
    assert f"runs/_writers/{lost.writer_id}.json" not in keys
    assert len(contract.metric_rows(survivor)) == 4  # what it had uploaded
    survivor.close()
    lost.close()
