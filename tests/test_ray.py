"""Trials of one round on a local Ray cluster, through ``RayExecutor``.

Selected only with ``-m ray`` (``make test-ray`` installs the ``ray`` extra and
runs it); selected without Ray installed, it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _parallel import DATA, automl, check_round
from arrowscope.automl import RayExecutor

pytestmark = pytest.mark.ray

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def ray_cluster(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """A two-CPU local Ray cluster, its files in a temporary directory."""
    import ray

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no usage report
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token written to ~/.ray
    temp = tmp_path_factory.mktemp("ray")
    # Workers unpickle the objective from this directory's _parallel module.
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
        _node_ip_address="127.0.0.1",
        _temp_dir=str(temp),
    )
    try:
        yield
    finally:
        ray.shutdown()


def test_automl_trials_on_a_ray_cluster(tmp_path: Path, ray_cluster: None) -> None:
    directory = tmp_path / "runs"
    result = automl(directory, 8, executor=RayExecutor()).fit(DATA)
    assert result.best_trial_number == check_round(directory, result.round_number, 8)
