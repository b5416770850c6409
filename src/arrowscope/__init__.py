"""arrowscope: a columnar, analytics-first tracker for hyperparameter search.

Training code opens nested scopes (project › client › round › trial › split ›
metric) and logs values; they are buffered in Arrow columns, written to
hive-partitioned Parquet, and every report is a DuckDB query.

Example:
    >>> import arrowscope as asc
    >>> root = asc.Root.in_memory()
    >>> space = asc.HyperparameterSpace({"lr": asc.LogUniform(1e-3, 1.0)})
    >>> with root.default_project() as p, p.default_client() as c, c.new_round("mse") as rnd:
    ...     rnd = rnd.with_optimizer(asc.RandomSearch(seed=0), space)
    ...     with rnd.new_rvs_trial() as trial, trial.new_validation_split() as split:
    ...         with split.managed_metric("mse", higher_score_is_better=False) as m:
    ...             m.add_valid_result(0.25)
    ...     rnd.get_best_trial_id()
    0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os

    import duckdb

    from arrowscope.aggregates import (
        AutoMLContext,
        Client,
        MetricResults,
        Project,
        Root,
        Round,
        Trial,
        TrialSplit,
    )
    from arrowscope.errors import (
        ArrowscopeError,
        CorruptFileError,
        DamagedLogWarning,
        HousekeepingWarning,
        InvalidNameError,
        RoundNotFoundError,
        ScopeClosedError,
        StorageWriteError,
        Terminated,
    )
    from arrowscope.hyperparams import (
        Boolean,
        Choice,
        HyperparameterOptimizer,
        HyperparameterSamples,
        HyperparameterSpace,
        LogNormal,
        LogUniform,
        Normal,
        Quantized,
        RandInt,
        Uniform,
    )
    from arrowscope.location import ScopedLocation, TrialStatus
    from arrowscope.optimizer import GridSearch, HyperparameterSamplerStub, RandomSearch
    from arrowscope.readers import scan
    from arrowscope.reports import (
        ClientReport,
        MetricResultsReport,
        ProjectReport,
        RootReport,
        RoundReport,
        TrialReport,
        TrialSplitReport,
    )
    from arrowscope.store import InMemoryRepository, ParquetRepository, Repository

from arrowscope._version import __version__ as __version__

# Public names and the module each lives in. They are imported on first use
# (PEP 562), so ``import arrowscope.cli`` or ``arrowscope.query`` does not pay
# for the scopes, the reports and the optimizers it never touches.
_EXPORTED_BY: dict[str, tuple[str, ...]] = {
    "arrowscope.aggregates": (
        "AutoMLContext",
        "Client",
        "MetricResults",
        "Project",
        "Root",
        "Round",
        "Trial",
        "TrialSplit",
    ),
    "arrowscope.errors": (
        "ArrowscopeError",
        "CorruptFileError",
        "DamagedLogWarning",
        "HousekeepingWarning",
        "InvalidNameError",
        "RoundNotFoundError",
        "ScopeClosedError",
        "StorageWriteError",
        "Terminated",
    ),
    "arrowscope.hyperparams": (
        "Boolean",
        "Choice",
        "HyperparameterOptimizer",
        "HyperparameterSamples",
        "HyperparameterSpace",
        "LogNormal",
        "LogUniform",
        "Normal",
        "Quantized",
        "RandInt",
        "Uniform",
    ),
    "arrowscope.location": ("ScopedLocation", "TrialStatus"),
    "arrowscope.optimizer": ("GridSearch", "HyperparameterSamplerStub", "RandomSearch"),
    "arrowscope.readers": ("scan",),
    "arrowscope.reports": (
        "ClientReport",
        "MetricResultsReport",
        "ProjectReport",
        "RootReport",
        "RoundReport",
        "TrialReport",
        "TrialSplitReport",
    ),
    "arrowscope.store": ("InMemoryRepository", "ParquetRepository", "Repository"),
}
_EXPORTS: dict[str, str] = {
    name: module for module, names in _EXPORTED_BY.items() for name in names
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'arrowscope' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def connect(
    source: str | os.PathLike[str] | Repository | object, **options: Any
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with arrowscope's views over ``source``: see ``arrowscope.query``.

    ``source`` is a directory, ``s3://bucket/prefix``, a repository or a
    ``Root``; ``options`` (``storage_options``, ``filesystem``, ``spool``)
    configure an ``s3://`` store. DuckDB is imported here, on first use:
    logging never loads it.
    """
    from arrowscope import query

    return query.connect(source, **options)


__all__ = [
    "ArrowscopeError",
    "AutoMLContext",
    "Boolean",
    "Choice",
    "Client",
    "ClientReport",
    "CorruptFileError",
    "DamagedLogWarning",
    "GridSearch",
    "HousekeepingWarning",
    "HyperparameterOptimizer",
    "HyperparameterSamplerStub",
    "HyperparameterSamples",
    "HyperparameterSpace",
    "InMemoryRepository",
    "InvalidNameError",
    "LogNormal",
    "LogUniform",
    "MetricResults",
    "MetricResultsReport",
    "Normal",
    "ParquetRepository",
    "Project",
    "ProjectReport",
    "Quantized",
    "RandInt",
    "RandomSearch",
    "Repository",
    "Root",
    "RootReport",
    "Round",
    "RoundNotFoundError",
    "RoundReport",
    "ScopeClosedError",
    "ScopedLocation",
    "StorageWriteError",
    "Terminated",
    "Trial",
    "TrialReport",
    "TrialSplit",
    "TrialSplitReport",
    "TrialStatus",
    "Uniform",
    "connect",
    "scan",
]
