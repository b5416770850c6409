"""A SeaweedFS S3 server for the benchmarks, started with the test suite's own code.

``tests/_s3server.py`` knows how to start ``weed mini`` safely (every port pinned,
bound to 127.0.0.1, credentials in its environment, its own process group);
this module only calls its functions, outside pytest::

    with seaweed(scratch) as server:   # the AWS_* variables now point at it
        uri = new_bucket(server)        # s3://bench-<hex>

The server's data directory goes under ``scratch`` (the repository's disk, as
for the local runs, so both stores write to the same disk) and is deleted with
the server. While the block runs, ``os.environ`` carries the server's
``AWS_*`` variables, so arrowscope, boto3 and every subprocess started
meanwhile reach it with no argument; they are restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _s3server import S3Server, running_server, weed_binary


@contextlib.contextmanager
def seaweed(scratch: Path) -> Iterator[S3Server]:
    """A running ``weed mini`` with its data under ``scratch``; its variables in ``os.environ``."""
    scratch.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=scratch))
    with running_server(data) as server:
        saved = {name: os.environ.get(name) for name in server.env()}
        os.environ.update(server.env())
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    shutil.rmtree(data, ignore_errors=True)


def new_bucket(server: S3Server) -> str:
    """Create an empty bucket; its ``s3://`` URI."""
    name = f"bench-{uuid.uuid4().hex[:20]}"
    server.client().create_bucket(Bucket=name)
    return f"s3://{name}"


def weed_version() -> str:
    """``weed version``'s first line, for the report."""
    done = subprocess.run(
        [weed_binary(), "version"], capture_output=True, text=True, check=False, timeout=30
    )
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"
