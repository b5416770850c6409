"""arrowscope's readers survive compactions: a connection keeps its answers, a query never fails.

Plain readers of ``**/*.parquet`` are another matter: see the README ("What
a plain reader sees").
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
from tests._workers import CLIENT, PROJECT, log_trial

import arrowscope as asc
from arrowscope.store import ParquetRepository


def _write_parts(root: Path, trials: int) -> int:
    """One Parquet part per trial, no automatic compaction; the rows written."""
    repo = ParquetRepository(root, flush_interval=3600, auto_compact_parts=0)
    key = (PROJECT, CLIENT, repo.allocate(PROJECT, CLIENT))
    rows = 0
    for _ in range(trials):
        rows += log_trial(repo, key, repo.allocate(*key))
        repo.checkpoint()
    repo.close()
    return rows


def test_a_connection_opened_before_a_compaction_keeps_answering(tmp_path: Path) -> None:
    rows = _write_parts(tmp_path, trials=8)
    con = asc.connect(tmp_path)
    parts = f"select count(*) from glob('{tmp_path}/metrics/**/*.parquet')"
    assert duckdb.sql(parts).fetchall() == [(8,)]
    compactor = ParquetRepository(tmp_path)
    assert compactor.compact() > 0
    compactor.close()
    assert duckdb.sql(parts).fetchall() == [(1,)]
    # The parts the connection listed are gone from the directory, not from its views.
    assert con.sql("select count(*) from metrics").fetchall() == [(rows,)]
    assert con.sql("select count(*) from trials where status = 'SUCCESS'").fetchall() == [(8,)]
    asc.query.refresh(con)
    assert con.sql("select count(*) from metrics").fetchall() == [(rows,)]
    con.close()


COMPACTOR = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from arrowscope.store import ParquetRepository

    repo = ParquetRepository(sys.argv[1])
    stop = Path(sys.argv[2])
    merged = 0
    while not stop.exists():
        merged += repo.compact()
    print(merged, flush=True)
    """
)

WRITER = textwrap.dedent(
    """
    import sys
    from tests._workers import CLIENT, PROJECT, log_trial
    from arrowscope.store import ParquetRepository

    repo = ParquetRepository(sys.argv[1], flush_interval=0.02, auto_compact_parts=2)
    key = (PROJECT, CLIENT, 0)
    for _ in range(int(sys.argv[2])):
        log_trial(repo, key, repo.allocate(*key))
        repo.checkpoint()
    repo.close()
    """
)


def test_queries_never_fail_while_writers_and_compactions_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    repo = ParquetRepository(runs)
    assert repo.allocate(PROJECT, CLIENT) == 0
    repo.close()
    stop = tmp_path / "stop"
    root = str(Path(__file__).resolve().parents[1])
    env = {"PYTHONPATH": root}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(runs), "12"], env=env, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    compactor = subprocess.Popen(
        [sys.executable, "-c", COMPACTOR, str(runs), str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    counts = []
    try:
        deadline = time.monotonic() + 60
        # Until the writers are done, and at least 4 rounds (compactions go on meanwhile).
        while (any(p.poll() is None for p in procs) or len(counts) < 8) and (
            time.monotonic() < deadline
        ):
            con = asc.connect(runs)  # connect, query, refresh, query: never an error
            counts.append(con.sql("select count(*) from metrics").fetchall()[0][0])
            asc.query.refresh(con)
            counts.append(con.sql("select count(*) from metrics").fetchall()[0][0])
            con.close()
    finally:
        stop.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        out, _ = compactor.communicate(timeout=60)
    assert compactor.returncode == 0 and int(out) > 0  # compactions did run
    assert len(counts) > 4 and counts == sorted(counts)  # rows only ever appear
    final = asc.connect(runs)
    assert final.sql("select count(distinct trial) from metrics").fetchall() == [(24,)]
