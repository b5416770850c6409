"""Logging loads only what logging needs: DuckDB and polars arrive with the first query."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_logging_a_round_imports_neither_duckdb_nor_polars(tmp_path: object) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import arrowscope as asc

        root = asc.Root.at({str(tmp_path)!r})
        space = asc.HyperparameterSpace({{"x": asc.Uniform(0, 1)}})
        with root.get_project("p") as project, project.get_client("c") as client:
            with client.new_round("acc") as rnd:
                rnd.with_optimizer(asc.RandomSearch(seed=0), space)
                with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
                    with split.managed_metric("acc", True) as m:
                        m.add_valid_result(0.5)
        print("duckdb" in sys.modules, "polars" in sys.modules)
        rnd.get_best_trial_id()
        print("duckdb" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False", "True"]
