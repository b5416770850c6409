"""``RayExecutor``: Ray tasks behind the ``concurrent.futures.Executor`` interface.

Ray has no executor of its own; this one makes each ``submit`` a Ray task, so
``AutoML(..., executor=RayExecutor())`` runs trials on a Ray cluster like on a
process pool. Ray is an optional extra (``pip install 'arrowscope[ray]'``),
imported when the first task is submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

__all__ = ["RayExecutor"]

P = ParamSpec("P")
T = TypeVar("T")


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


class RayExecutor(Executor):
    """Runs each submitted call as a Ray task on the cluster ``ray.init()`` connected to.

    Cancelling a future cancels its task (``ray.cancel``): a task that has not
    started never runs; one that has is interrupted (a trial ends ABORTED).
    ``shutdown`` refuses new tasks and leaves the cluster running: it belongs to
    whoever called ``ray.init()``.

    Args:
        **options: Options of every task, as for ``ray.remote`` (e.g. ``num_cpus=2``).

    Example:
        >>> import ray  # doctest: +SKIP
        >>> ray.init(num_cpus=4)  # doctest: +SKIP
        >>> AutoML(objective, space, root="runs", main_metric="mse",
        ...        executor=RayExecutor()).fit(data)  # doctest: +SKIP
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._remote: Any = None
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn(*args, **kwargs)`` as a Ray task; its future resolves with the result.

        Raises:
            RuntimeError: The executor was shut down.
            ImportError: Ray is not installed.
        """
        if self._closed:
            raise RuntimeError("cannot submit to a RayExecutor after shutdown()")
        import ray

        if self._remote is None:
            task = ray.remote(_call)
            self._remote = task.options(**self._options) if self._options else task
        ref = self._remote.remote(fn, args, kwargs)
        future: Future[T] = ref.future()
        future.add_done_callback(lambda f: ray.cancel(ref) if f.cancelled() else None)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new tasks; the Ray cluster stays up."""
        self._closed = True
