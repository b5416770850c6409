"""Where a record lives: project › client › round › trial › split › metric.

Names are user text that end up as hive partition directories, so they are
validated here once (``validate_name``) and percent-encoded for paths
(``encode_partition_value``). Everything else -- spaces, unicode, quotes,
``%`` -- round-trips exactly through DuckDB, polars and pyarrow.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from typing import Final

from arrowscope.errors import InvalidNameError

MAX_NAME_LENGTH: Final = 128
# A name becomes the directory ``project=<encoded>`` (``client=``, ...): with the
# longest key (8 bytes) it stays within the 255-byte file name limit of common
# file systems. Emoji take 12 bytes once percent-encoded, CJK letters 3.
MAX_ENCODED_BYTES: Final = 240
DEFAULT_PROJECT: Final = "default_project"
DEFAULT_CLIENT: Final = "default_client"
DEFAULT_METRIC: Final = "main"
RETRAIN_SPLIT: Final = -1
LEVELS: Final = ("project", "client", "round", "trial", "split", "metric")

# Characters written as-is in a partition directory name; every other ASCII
# punctuation is percent-encoded so that no reader decodes or globs it.
_SAFE_PUNCTUATION: Final = frozenset(" -_.~!$&'(),;@+^`|<>\"")
# polars and pyarrow read this partition value back as NULL, however it is encoded.
_HIVE_NULL: Final = "__HIVE_DEFAULT_PARTITION__"


class TrialStatus(enum.StrEnum):
    """The state of a trial or a split; the string value equals the name."""

    PLANNED = "PLANNED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCESS, FAILED and ABORTED."""
        return self in (TrialStatus.SUCCESS, TrialStatus.FAILED, TrialStatus.ABORTED)


def validate_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it can be a project, client or metric name.

    The rules (the same for every name): a non-empty ``str`` of at most
    ``MAX_NAME_LENGTH`` (128) characters and at most ``MAX_ENCODED_BYTES`` (240)
    bytes once percent-encoded for its directory name (20 emoji or 80 CJK letters
    fill it); not ``.``, ``..`` or ``__HIVE_DEFAULT_PARTITION__``; no leading or
    trailing blanks; no ``/``, ``\\``, ``=``, control characters or lone surrogates.

    Raises:
        InvalidNameError: (a ``ValueError``) naming the value and the rule broken.
    """
    if type(name) is str and name in _VALID_NAMES:
        return name  # a metric name is checked again at every split: once is enough
    if not isinstance(name, str):
        raise InvalidNameError(name, f"a {what} must be a str, not {type(name).__name__}")
    if name == "":
        raise InvalidNameError(name, f"a {what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            name, f"a {what} has at most {MAX_NAME_LENGTH} characters, this one has {len(name)}"
        )
    if name in (".", ".."):
        raise InvalidNameError(name, f"a {what} must not be '.' or '..'")
    if name == _HIVE_NULL:
        raise InvalidNameError(name, f"a {what} must not be {_HIVE_NULL}, reserved for nulls")
    if name != name.strip():
        raise InvalidNameError(name, f"a {what} must not start or end with blanks")
    for char in name:
        if char in "/\\=":
            raise InvalidNameError(name, f"a {what} must not contain {char!r} (/, \\ and =)")
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidNameError(
                name, f"a {what} must not contain control characters (found {char!r})"
            )
    encoded = len(encode_partition_value(name).encode("utf-8"))
    if encoded > MAX_ENCODED_BYTES:
        raise InvalidNameError(
            name,
            f"a {what} takes at most {MAX_ENCODED_BYTES} bytes once percent-encoded for its "
            f"directory name, this one takes {encoded} (an emoji or a symbol takes up to 12, "
            "a CJK letter 3)",
        )
    if type(name) is str and len(_VALID_NAMES) < _VALID_NAMES_KEPT:
        _VALID_NAMES.add(name)
    return name


_VALID_NAMES: set[str] = set()
_VALID_NAMES_KEPT: Final = 10_000


def encode_partition_value(value: str) -> str:
    """Percent-encode a validated name for a ``key=value`` directory.

    Letters, digits (any script), blanks and harmless punctuation stay as they
    are; ``%``, glob characters (``* ? [ ] { }``) and the rest are encoded, so
    DuckDB, polars and pyarrow decode the directory back to exactly ``value``
    (``validate_name`` refuses the one value they read back as null).
    """
    return "".join(
        char if char.isalnum() or char in _SAFE_PUNCTUATION else _percent(char) for char in value
    )


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class ScopedLocation:
    """The ids from the project down to one scope; ``None`` past its level.

    ``ScopedLocation("p", "c", 0, 3)`` is trial 3 of round 0 of client ``c``.
    The root is ``ScopedLocation()``. Locations never have gaps.
    """

    project: str | None = None
    client: str | None = None
    round: int | None = None
    trial: int | None = None
    split: int | None = None
    metric: str | None = None

    def __post_init__(self) -> None:
        parts = self.as_tuple(full=True)
        depth = len(self.as_tuple())
        if any(part is not None for part in parts[depth:]):
            raise ValueError(f"a location has no gaps, got {parts!r}")

    def as_tuple(self, full: bool = False) -> tuple[str | int | None, ...]:
        """The ids down to this scope's level (all six with ``full``)."""
        parts = (self.project, self.client, self.round, self.trial, self.split, self.metric)
        if full:
            return parts
        depth = 0
        while depth < len(parts) and parts[depth] is not None:
            depth += 1
        return parts[:depth]

    @property
    def level(self) -> str:
        """``root``, ``project``, ``client``, ``round``, ``trial``, ``split`` or ``metric``."""
        depth = len(self.as_tuple())
        return "root" if depth == 0 else LEVELS[depth - 1]

    def child(self, key: str | int) -> ScopedLocation:
        """The location one level down with id ``key``."""
        parts = list(self.as_tuple(full=True))
        depth = len(self.as_tuple())
        if depth == len(LEVELS):
            raise ValueError(f"a metric location {self} has no children")
        if key is None:
            raise ValueError(f"the child of {self} needs an id, not None")
        parts[depth] = key
        # Gap-free by construction: skip __post_init__ (scopes open children per split).
        child = object.__new__(ScopedLocation)
        for name, part in zip(LEVELS, parts, strict=True):
            object.__setattr__(child, name, part)
        return child

    def parent(self) -> ScopedLocation:
        """The location one level up (the root is its own parent)."""
        parts = list(self.as_tuple())
        if not parts:
            return self
        return ScopedLocation(*parts[:-1])  # type: ignore[arg-type]

    def round_key(self) -> tuple[str, str, int]:
        """``(project, client, round)``: the partition this scope's rows go to."""
        if self.project is None or self.client is None or self.round is None:
            raise ValueError(f"{self} is above the round level and has no round partition")
        return (self.project, self.client, self.round)

    def __str__(self) -> str:
        return "/".join(str(part) for part in self.as_tuple()) or "<root>"
