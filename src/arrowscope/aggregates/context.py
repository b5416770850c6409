"""``AutoMLContext``: which repository a scope writes to, and where in it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from arrowscope.location import ScopedLocation
from arrowscope.reports import Reader
from arrowscope.store import Repository


@dataclass(frozen=True)
class AutoMLContext:
    """A repository, a location in it and, for split contexts, a phase.

    Contexts are values: ``push``, ``with_repo`` and ``with_phase`` return
    new ones. Scopes opened from one context share its ``Reader`` (one
    DuckDB connection per repository).
    """

    repository: Repository | None = None
    location: ScopedLocation = field(default_factory=ScopedLocation)
    phase: str | None = None
    reader: Reader | None = field(default=None, compare=False, repr=False)

    @staticmethod
    def from_context(
        context: AutoMLContext | None = None, repository: Repository | None = None
    ) -> AutoMLContext:
        """A copy of ``context`` (or a fresh root context), on ``repository`` if given."""
        base = context if context is not None else AutoMLContext()
        return base.with_repo(repository) if repository is not None else base

    def with_repo(self, repository: Repository) -> AutoMLContext:
        """The same location on another repository."""
        return replace(self, repository=repository, reader=Reader(repository))

    def push(self, key: str | int) -> AutoMLContext:
        """The context of the child scope ``key``."""
        # A direct call: dataclasses.replace costs several times more, once per scope.
        return AutoMLContext(self.repository, self.location.child(key), self.phase, self.reader)

    def at(self, location: ScopedLocation) -> AutoMLContext:
        """The context of another location on the same repository."""
        return replace(self, location=location)

    def with_phase(self, phase: str) -> AutoMLContext:
        """A copy tagged with ``"train"`` or ``"valid"``, handed to metric functions."""
        if phase not in ("train", "valid"):
            raise ValueError(f"phase must be 'train' or 'valid', not {phase!r}")
        return replace(self, phase=phase)
