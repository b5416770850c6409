"""Shorthands of SPEC §6 for building rounds through the public scope API."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import arrowscope as asc


def open_root(kind: str, path: Path) -> asc.Root:
    """A fresh root: ``memory`` or ``parquet`` (in ``path``)."""
    return asc.Root.in_memory() if kind == "memory" else asc.Root.at(path, flush_interval=0.5)


def reopen(root: asc.Root, kind: str, path: Path) -> asc.Root:
    """A new root on the same store ("reopen" in SPEC §6)."""
    if kind == "memory":
        return asc.Root.from_repo(None, root.repository)
    root.close()
    return asc.Root.at(path)


def stub(rnd: asc.Round, hps: dict[str, Any]) -> asc.Round:
    return rnd.with_optimizer(asc.HyperparameterSamplerStub(hps), asc.HyperparameterSpace({}))


def run_split(
    trial: asc.Trial, values: Sequence[float], metric: str = "mse", hib: bool = False
) -> asc.TrialSplit:
    """SPEC's ``split(vals)``: one epoch per value, train = valid = the value."""
    with trial.new_validation_split() as split:
        split.with_n_epochs(len(values))
        for value in values:
            split.next_epoch()
            with split.managed_metric(metric, hib) as m:
                m.add_train_result(value)
                m.add_valid_result(value)
    return split


def run_trial(
    rnd: asc.Round,
    hps: dict[str, Any],
    *splits: Sequence[float],
    metric: str = "mse",
    hib: bool = False,
) -> asc.Trial:
    """One trial with the given hyperparameters and one split per value list."""
    stub(rnd, hps)
    with rnd.new_rvs_trial() as trial:
        for values in splits:
            run_split(trial, values, metric, hib)
    return trial


def failing_trial(rnd: asc.Round, logged: float, exc: BaseException, hib: bool = True) -> None:
    """A trial (continue_on_error) whose only split logs ``logged`` then raises ``exc``."""
    stub(rnd, {})
    with rnd.new_rvs_trial(continue_on_error=True) as trial:
        with trial.new_validation_split() as split:
            split.with_n_epochs(1)
            split.next_epoch()
            with split.managed_metric(rnd.main_metric_name or "main", hib) as m:
                m.add_valid_result(logged)
            raise exc
