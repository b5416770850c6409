"""The app's files: a fixed table of names, and one-file bundles for the static report.

The server never joins a requested path to a directory: :func:`asset_table`
lists the files under ``ui/static`` once (plus plotly.js from the ``plotly``
package, where it ships as ``plotly/package_data/plotly.min.js``), and a
request names one of those keys exactly, or gets 404. ``..``, encoded or not,
cannot match a key.

:func:`bundle` turns the ES modules of ``ui/static/js`` into one classic
script for the self-contained HTML report, which cannot load modules from
files. Each module becomes a function scope returning its exports, and each
``import { a, b as c } from "./x.js";`` line becomes a destructuring of the
module it names, so names never clash between modules. The modules keep to
that one import form and to ``export function|const|class`` declarations.
"""

from __future__ import annotations

import functools
import mimetypes
import posixpath
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

PLOTLY: Final = "vendor/plotly.min.js"
_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}/[^"]+)";\s*$', re.M)
_EXPORT = re.compile(
    r"^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)", re.M
)
_TYPES: Final = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    """One file the app serves: where it is and its media type."""

    path: Path
    media_type: str

    def read(self) -> bytes:
        """The file's bytes."""
        return self.path.read_bytes()

    def etag(self) -> str:
        """A tag that changes when the file does (its size and modification time)."""
        stat = self.path.stat()
        return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def static_dir() -> Path:
    """The directory of the app's own HTML, CSS and JavaScript."""
    return Path(str(resources.files("arrowscope.ui").joinpath("static")))


def plotly_path() -> Path:
    """plotly.js as the ``plotly`` package ships it.

    Raises:
        ImportError: the ``ui`` extra is not installed.
    """
    try:
        import plotly
    except ImportError as exc:
        raise ImportError("arrowscope ui needs its extra: pip install 'arrowscope[ui]'") from exc
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise ImportError(f"plotly.js is missing from the plotly package ({path})")
    return path


@functools.cache
def asset_table() -> dict[str, Asset]:
    """Every servable file by its URL path under ``/static/`` (``js/app.js``, …)."""
    root = static_dir()
    table: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            name = path.relative_to(root).as_posix()
            table[name] = Asset(path, _media_type(path))
    table[PLOTLY] = Asset(plotly_path(), "text/javascript")
    return table


def _media_type(path: Path) -> str:
    return (
        _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


def bundle(entry: str) -> str:
    """The module ``entry`` (a key of :func:`asset_table`) and its imports as one script.

    Raises:
        ValueError: a module imports a file that is not an asset, or imports in a cycle.
    """
    order: list[str] = []
    _visit(entry, order, [])
    parts = ["(function () {", '"use strict";']
    for name in order:
        parts.append(_wrapped(name))
    parts.append("})();")
    return "\n".join(parts)


def _source(name: str) -> str:
    asset = asset_table().get(name)
    if asset is None or not name.endswith(".js"):
        raise ValueError(f"{name!r} is not a module of the app")
    return asset.read().decode("utf-8")


def _visit(name: str, order: list[str], path: list[str]) -> None:
    if name in order:
        return
    if name in path:
        raise ValueError(f"modules import each other in a cycle: {' -> '.join([*path, name])}")
    for _names, target in _IMPORT.findall(_source(name)):
        _visit(_resolve(name, target), order, [*path, name])
    order.append(name)


def _resolve(importer: str, target: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer), target))


def _variable(name: str) -> str:
    return "__module_" + re.sub(r"\W", "_", name)


def _wrapped(name: str) -> str:
    source = _source(name)
    exports = _EXPORT.findall(source)

    def as_const(match: re.Match[str]) -> str:
        names = [n.strip() for n in match.group(1).split(",") if n.strip()]
        pattern = ", ".join(n.replace(" as ", ": ") for n in names)
        return f"const {{ {pattern} }} = {_variable(_resolve(name, match.group(2)))};"

    body = _IMPORT.sub(as_const, source)
    body = re.sub(r"^export\s+", "", body, flags=re.M)
    returned = ", ".join(exports)
    return f"const {_variable(name)} = (function () {{\n{body}\nreturn {{ {returned} }};\n}})();"
