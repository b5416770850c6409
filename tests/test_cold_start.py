"""Logging loads only what logging needs: DuckDB and polars arrive with the first query
that needs them."""

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
        rnd.get_best_trial_id()  # a settled round: answered from its events
        print("duckdb" in sys.modules)
        rnd.summary()
        print("duckdb" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False", "False", "True"]


def _fresh_modules(statement: str) -> set[str]:
    """The arrowscope modules a fresh interpreter holds after ``statement``."""
    script = f"import sys\n{statement}\nprint(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return {name for name in done.stdout.split() if name.startswith("arrowscope")}


def test_the_command_line_loads_no_scopes_reports_or_optimizers() -> None:
    loaded = _fresh_modules("import arrowscope.cli")
    assert "arrowscope.query" not in loaded, "DuckDB and pyarrow wait for a command that reads"
    heavy = {"aggregates", "reports", "hyperparams", "optimizer", "automl", "optuna", "ui.server"}
    assert not {name for name in loaded if name.split(".", 1)[-1].split(".")[0] in heavy}, loaded
    script = "import sys, arrowscope.cli\nprint('duckdb' in sys.modules, 'pyarrow' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_a_command_that_reads_loads_the_query_layer(tmp_path: object) -> None:
    script = textwrap.dedent(
        f"""
        import contextlib, io, sys
        from arrowscope import cli
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = cli.main(["summary", {str(tmp_path)!r}])
        print(code, "arrowscope.query" in sys.modules, "duckdb" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["0", "True", "True"]


def test_package_names_resolve_on_first_use() -> None:
    assert _fresh_modules("import arrowscope") == {"arrowscope", "arrowscope._version"}
    loaded = _fresh_modules("import arrowscope\narrowscope.Root")
    assert {"arrowscope.aggregates", "arrowscope.store"} <= loaded
    import arrowscope

    for name in arrowscope.__all__:
        assert getattr(arrowscope, name) is not None
        assert name in dir(arrowscope)
    from arrowscope.aggregates import Root

    assert arrowscope.Root is Root
    try:
        arrowscope.Rooot  # noqa: B018
    except AttributeError as exc:
        assert "Rooot" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_the_command_exits_early_with_all_of_its_output(tmp_path: object) -> None:
    # ``python -m arrowscope.cli`` ends with ``os._exit``: every row must still
    # reach a pipe, and the exit code must be the command's.
    query = "select range as n from range(200000)"
    done = subprocess.run(
        [sys.executable, "-m", "arrowscope.cli", "sql", str(tmp_path), query, "--csv"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "n" and len(lines) == 200001 and lines[-1] == "199999"
    failed = subprocess.run(
        [sys.executable, "-m", "arrowscope.cli", "sql", str(tmp_path), "select nope"],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and "nope" in failed.stderr
