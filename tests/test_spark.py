"""Spark reads an arrowscope directory: the README's recipe finds the same best trials,
with the same scores, as ``arrowscope.connect``."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

import arrowscope as asc
from _scopes import failing_trial, run_split, run_trial

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = [
    pytest.mark.slow,  # a JVM
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


def _readme_recipe() -> str:
    """The Python block of the README that follows the ``spark-recipe`` marker."""
    text = README.read_text()
    found = re.search(r"<!-- spark-recipe -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, "README.md lost its spark-recipe block"
    return found.group(1)


def _write_rounds(runs: Path) -> None:
    """Two rounds whose scores exercise every clause of the score rule."""
    root = asc.Root.at(runs)
    nan, inf = float("nan"), float("inf")
    # Names that look like numbers: Spark must read them as text.
    with root.get_project("001") as p, p.get_client("007") as c:
        with c.new_round("loss") as rnd:
            run_trial(rnd, {"x": 0}, [0.5, 0.4], [0.6, 0.3], metric="loss")  # 0.35
            run_trial(
                rnd, {"x": 1}, [0.2, nan], [0.25, -inf], metric="loss"
            )  # 0.225: NaN and inf ignored
            failing_trial(rnd, 0.01, ValueError("boom"), hib=False)  # FAILED: no score
            with rnd.new_rvs_trial(continue_on_error=True) as trial:  # a failed split is left out
                run_split(trial, [0.3], metric="loss")
                with trial.new_validation_split() as split:
                    split.with_n_epochs(1)
                    split.next_epoch()
                    with split.managed_metric("loss", False) as m:
                        m.add_valid_result(0.0)
                    raise RuntimeError("split failed")
            run_trial(
                rnd, {"x": 5}, [0.2], [0.25], metric="loss"
            )  # ties with trial 1: the lower id wins
            with rnd.refitting_best_trial() as best, best.retrain_split() as retrain:
                with retrain.managed_metric("loss", False) as m:  # the retrain split never scores
                    m.add_valid_result(-1.0)
        with c.new_round("loss") as rnd:
            run_trial(rnd, {"x": 0}, [0.7], metric="acc", hib=True)
            run_trial(rnd, {"x": 1}, [0.9], metric="acc", hib=True)
    root.close()
    # Another writer (another clock) changes round 1's main metric: its event is the latest.
    with asc.Root.at(runs).get_project("001") as p, p.get_client("007") as c:
        with c.optim_round(False, "acc"):
            pass


def test_spark_finds_the_same_best_trials_as_arrowscope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import SparkSession

    runs = tmp_path / "runs"
    _write_rounds(runs)
    db = asc.connect(runs)
    expected_best = db.sql(
        "select project, client, round, best_trial, best_score from rounds order by round"
    ).fetchall()
    assert [(r[3], r[4]) for r in expected_best] == [(1, 0.225), (1, 0.9)]
    expected_scores = db.sql(
        "select round, trial, score from trials where score is not null order by round, trial"
    ).fetchall()

    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("arrowscope-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        # A few kilobytes of data: planning and compiling, not computing, take the time.
        # Without whole-stage code generation and adaptive re-planning, and with the JIT
        # stopped at its first tier, the JVM spends half the CPU time on the same queries.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse"))
        .getOrCreate()
    )
    try:
        recipe = _readme_recipe()
        assert 'runs = "runs"' in recipe
        namespace: dict[str, Any] = {}
        exec(recipe.replace('runs = "runs"', f"runs = {str(runs)!r}"), namespace)
        best = sorted(tuple(r) for r in namespace["best"].collect())
        scores = spark.table("trial_scores").collect()
        types = dict(spark.table("metrics").dtypes)
    finally:
        spark.stop()
    assert (types["project"], types["client"], types["round"]) == ("string", "string", "int")
    assert [b[:4] for b in best] == [e[:4] for e in expected_best]
    assert all(math.isclose(b[4], e[4]) for b, e in zip(best, expected_best, strict=True))
    got = sorted((r["round"], r["trial"], r["score"]) for r in scores)
    assert [g[:2] for g in got] == [e[:2] for e in expected_scores]
    assert all(math.isclose(g[2], e[2]) for g, e in zip(got, expected_scores, strict=True))
