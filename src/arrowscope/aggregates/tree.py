"""``Root``, ``Project`` and ``Client``: naming levels above the rounds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from arrowscope._signals import install_sigterm_handler
from arrowscope.aggregates._scope import Managed, ScopeMembers, context_reader
from arrowscope.aggregates.context import AutoMLContext
from arrowscope.aggregates.round import Round
from arrowscope.location import DEFAULT_CLIENT, DEFAULT_PROJECT, ScopedLocation, validate_name
from arrowscope.reports import ClientReport, ProjectReport, RootReport
from arrowscope.store import InMemoryRepository, Repository

DEFAULT_DIR_ENV = "ARROWSCOPE_DIR"
DEFAULT_DIR = "arrowscope-runs"


class Root(ScopeMembers, RootReport):
    """The top of a repository: its projects.

    Example:
        >>> import arrowscope as asc
        >>> root = asc.Root.in_memory()
        >>> [p.get_id() for p in root.projects]
        ['default_project']
    """

    def __init__(self, context: AutoMLContext) -> None:
        RootReport.__init__(self, context_reader(context), ScopedLocation())
        self._init_scope(context.at(ScopedLocation()), None)
        # SIGTERM then ends the running scopes ABORTED (see arrowscope._signals).
        install_sigterm_handler()

    @staticmethod
    def from_repo(context: AutoMLContext | None, repo: Repository) -> Root:
        """A root on ``repo`` (always ``repo``, whatever ``context`` carries)."""
        return Root(AutoMLContext.from_context(context).with_repo(repo))

    @staticmethod
    def at(
        path: str | os.PathLike[str],
        flush_interval: float | None = None,
        *,
        fsync: bool | None = None,
        auto_compact_parts: int | None = None,
        filesystem: Any = None,
        storage_options: Mapping[str, str] | None = None,
        spool: str | os.PathLike[str] | None = None,
    ) -> Root:
        """A root on the repository at ``path``: a directory (created if missing) or a URI.

        Args:
            path: A directory, ``file:///abs/path``, ``memory://`` or
                ``s3://bucket/prefix`` (S3 or an S3-compatible server,
                configured by the standard AWS variables or the arguments below).
            flush_interval: Seconds bounding how much a crash may lose of a
                split that is still running, and how far plain Parquet readers
                lag behind: a background thread writes out and checkpoints
                that often. Exited splits, trials and rounds are durable when
                their block exits.
            fsync: Make every exit durable on disk (survives a power loss),
                at the cost of an fsync per exit.
            auto_compact_parts: Merge a partition's parts once a writer has
                written more than this many; 0 turns automatic compaction off.
            filesystem: ``s3://`` only: a ``pyarrow.fs.S3FileSystem`` to use.
            storage_options: ``s3://`` only: ``endpoint_url``,
                ``access_key_id``, ``secret_access_key``, ``session_token``,
                ``region``, ``profile`` (instead of the AWS variables).
            spool: ``s3://`` only: the local directory logs are kept in until
                uploaded (default: one per URI under ``~/.cache/arrowscope``).

        Raises:
            StorageConfigError: an ``s3://`` store that cannot be used as
                configured (endpoint, credentials, bucket, foreign prefix).
            ValueError: a URI scheme arrowscope does not know.
        """
        from arrowscope.store import open_repository

        given = {
            "flush_interval": flush_interval,
            "fsync": fsync,
            "auto_compact_parts": auto_compact_parts,
            "filesystem": filesystem,
            "storage_options": storage_options,
            "spool": spool,
        }
        options = {k: v for k, v in given.items() if v is not None}
        return Root.from_repo(None, open_repository(path, **options))

    @staticmethod
    def vanilla(context: AutoMLContext | None = None) -> Root:
        """A root on ``context``'s repository, else ``$ARROWSCOPE_DIR`` or ``./arrowscope-runs``."""
        if context is not None and context.repository is not None:
            return Root(context)
        return Root.at(os.environ.get(DEFAULT_DIR_ENV) or DEFAULT_DIR)

    @staticmethod
    def in_memory() -> Root:
        """A root on a fresh, independent in-memory repository."""
        return Root.from_repo(None, InMemoryRepository())

    @property
    def repository(self) -> Repository:
        """The repository (``arrowscope.connect(root)`` queries it)."""
        return self.repo

    @property
    def projects(self) -> list[Project]:
        """Every project, in name order."""
        return list(self)

    def _child(self, key: Any) -> Project:
        return Project(self._context.push(key), self)

    def get_project(self, name: str) -> Managed[Project]:
        """``with root.get_project("vision") as project:`` -- created empty if absent."""
        return Managed(lambda: self._open(name), _release_naming)

    def default_project(self) -> Managed[Project]:
        return self.get_project(DEFAULT_PROJECT)

    def _open(self, name: str) -> Project:
        validate_name(name, "project name")
        self.repo.create(name)
        return self._child(name)

    def save(self, deep: bool = False) -> Root:
        self.repo.flush()
        return self

    def close(self) -> None:
        """Flush and checkpoint everything; the data stays readable."""
        self.repo.close()


class Project(ScopeMembers, ProjectReport):
    """A project: its clients, in name order."""

    def __init__(self, context: AutoMLContext, parent: Root | None = None) -> None:
        ProjectReport.__init__(self, context_reader(context), context.location)
        self._init_scope(context, parent)

    def _child(self, key: Any) -> Client:
        return Client(self._context.push(key), self)

    def get_client(self, name: str) -> Managed[Client]:
        """``with project.get_client("alice") as client:`` -- created empty if absent."""
        return Managed(lambda: self._open(name), _release_naming)

    def default_client(self) -> Managed[Client]:
        return self.get_client(DEFAULT_CLIENT)

    def _open(self, name: str) -> Client:
        validate_name(name, "client name")
        assert self.location.project is not None
        self.repo.create(self.location.project, name)
        return self._child(name)


class Client(ScopeMembers, ClientReport):
    """A client: its rounds, numbered from 0."""

    def __init__(self, context: AutoMLContext, parent: Project | None = None) -> None:
        ClientReport.__init__(self, context_reader(context), context.location)
        self._init_scope(context, parent)

    def _child(self, key: Any) -> Round:
        rnd = Round(self._context.push(key), self, None)
        rnd._load()
        return rnd

    def new_round(self, main_metric_name: str | None = None) -> Managed[Round]:
        """``with client.new_round("acc") as rnd:`` -- round number = number of rounds."""
        return Managed(lambda: self._new(main_metric_name), _release_round)

    def resume_last_round(self) -> Managed[Round]:
        """Re-open the last round (creates round 0 on a client with none).

        Safe to call from several processes at once: on a client with no
        round, exactly one of them creates round 0 and the others join it.
        """
        return Managed(lambda: self._resume(None), _release_round)

    def optim_round(self, new_round: bool, main_metric_name: str | None) -> Managed[Round]:
        """``new_round`` when True; else resume, replacing the main metric when given."""
        if new_round:
            return self.new_round(main_metric_name)
        return Managed(lambda: self._resume(main_metric_name), _release_round)

    def _new(self, main_metric_name: str | None) -> Round:
        if main_metric_name is not None:
            validate_name(main_metric_name, "metric name")
        project, client = self._names()
        return self._created(self.repo.allocate(project, client), main_metric_name)

    def _created(self, number: int, main_metric_name: str | None) -> Round:
        """The round ``number`` this process has just claimed: its creation event is written."""
        rnd = Round(self._context.push(number), self, main_metric_name)
        rnd._set_main_metric(main_metric_name)
        return rnd

    def _resume(self, main_metric_name: str | None) -> Round:
        """The last round; on a client without rounds, round 0 (created by one process only).

        Processes that find no round all try to claim round 0 exactly; the
        one that gets it creates the round, the others list again and join it.
        """
        if main_metric_name is not None:
            validate_name(main_metric_name, "metric name")
        project, client = self._names()
        rounds = self._child_ids()
        while not rounds:
            if self.repo.claim(project, client, None, 0):
                return self._created(0, main_metric_name)
            rounds = self._child_ids()  # another process claimed round 0 meanwhile
        rnd = self._child(rounds[-1])
        if main_metric_name is not None and main_metric_name != rnd.main_metric_name:
            rnd.with_metric(main_metric_name)
        return rnd

    def _names(self) -> tuple[str, str]:
        loc = self.location
        assert loc.project is not None and loc.client is not None
        return loc.project, loc.client


def _release_naming(scope: ScopeMembers, exc: BaseException | None) -> bool:
    scope.repo.flush()
    return False


def _release_round(rnd: Round, exc: BaseException | None) -> bool:
    rnd.repo.flush()
    rnd.repo.checkpoint()
    return False
