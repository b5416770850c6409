"""The web app: Starlette routes over :mod:`pages` and :mod:`sqlbox`, served by uvicorn.

Routes (all ``GET`` but the SQL box's ``POST``):

=====================  ==========================================================
``/``                  the single page (``static/index.html``); pages are URL fragments
``/static/<name>``     a file of :func:`assets.asset_table`, by exact name
``/api/status``        data version and whether the directory is open
``/api/home``          projects › clients › rounds
``/api/round``         ``project``, ``client``, ``round``; ``etag`` to ask "changed?"
``/api/curves``        the same plus ``metric``, ``phase``, ``trials`` (comma separated)
``/api/trial``         the same plus ``trial``
``/api/compare``       ``round`` once per round, as a JSON ``[project, client, round]``
``/api/sql``           POST ``{"query": ...}``: the first rows, or ``{"error": ...}``
``/api/sql.csv``       GET ``query=...``: every row, as a CSV download
=====================  ==========================================================

A JSON answer given an ``etag`` equal to its own is ``{"unchanged": true}``:
a page polling for changes gets a few bytes while nothing changed. Query
handlers are plain functions, which Starlette runs in its thread pool.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from arrowscope.errors import ArrowscopeError
from arrowscope.query import QueryError
from arrowscope.ui import pages
from arrowscope.ui.assets import asset_table
from arrowscope.ui.live import LiveData, NotReady
from arrowscope.ui.pages import Answer, NotFound, RoundKey
from arrowscope.ui.security import Access, Guard
from arrowscope.ui.sqlbox import Sandbox, SqlRefused

logger = logging.getLogger(__name__)

_NO_STORE: Final = {"cache-control": "no-store"}
_MAX_QUERY: Final = 100_000


class BadRequest(ArrowscopeError, ValueError):
    """A request missing a parameter or giving one of the wrong kind."""


def build_app(data: LiveData, access: Access) -> Guard:
    """The ASGI app serving ``data`` under the rules of ``access``."""
    sandbox = Sandbox(data)
    assets = asset_table()

    def index(request: Request) -> Response:
        body = assets["index.html"].read()
        return Response(body, media_type="text/html; charset=utf-8", headers=_NO_STORE)

    def static(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("404: no such file", status_code=404)
        # Names carry no version: browsers revalidate each time, and a file they
        # hold already (plotly.js is 4.8 MB) is answered with 304.
        headers = {"cache-control": "no-cache", "etag": asset.etag()}
        if request.headers.get("if-none-match") == headers["etag"]:
            return Response(status_code=304, headers=headers)
        return Response(asset.read(), media_type=asset.media_type, headers=headers)

    def status(request: Request) -> Response:
        return JSONResponse(
            {"ready": data.ready, "version": data.version, "source": str(data.source)},
            headers=_NO_STORE,
        )

    def home(request: Request) -> Response:
        return _json(request, lambda: pages.home(data))

    def round_(request: Request) -> Response:
        return _json(request, lambda: pages.round_page(data, _round_key(request)))

    def curves(request: Request) -> Response:
        key = _round_key(request)
        metric, phase = _param(request, "metric"), _param(request, "phase")
        trials = _int_list(_param(request, "trials", ""))
        return _json(request, lambda: pages.curves(data, key, metric, phase, trials))

    def trial(request: Request) -> Response:
        key, number = _round_key(request), _int(_param(request, "trial"), "trial")
        return _json(request, lambda: pages.trial_page(data, key, number))

    def compare(request: Request) -> Response:
        keys = [_json_round(text) for text in request.query_params.getlist("round")]
        if not keys:
            raise BadRequest("name the rounds to compare: round=[project, client, number]")
        return _json(request, lambda: pages.compare(data, keys))

    async def sql(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError as exc:
            raise BadRequest('send {"query": "..."} as JSON') from exc
        query = body.get("query") if isinstance(body, dict) else None
        text = _query_text(query)
        from starlette.concurrency import run_in_threadpool

        try:
            result = await run_in_threadpool(sandbox.run, text)
        except (SqlRefused, QueryError) as exc:
            # The query's own fault is the answer, shown under the box: not a failed request.
            result = {"error": str(exc)}
        return JSONResponse(result, headers=_NO_STORE)

    def sql_csv(request: Request) -> Response:
        text = _query_text(request.query_params.get("query"))
        lines = sandbox.csv_lines(text)
        first = next(lines)  # runs the query: errors become a 400 here, not mid-download
        return StreamingResponse(
            _csv_chunks(first, lines),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="query.csv"', **_NO_STORE},
        )

    routes = [
        Route("/", index),
        Route("/static/{name:path}", static),
        Route("/api/status", status),
        Route("/api/home", home),
        Route("/api/round", round_),
        Route("/api/curves", curves),
        Route("/api/trial", trial),
        Route("/api/compare", compare),
        Route("/api/sql", sql, methods=["POST"]),
        Route("/api/sql.csv", sql_csv),
    ]
    handlers: dict[Any, Any] = {
        BadRequest: _error(400),
        SqlRefused: _error(400),
        QueryError: _error(400),
        NotFound: _error(404),
        NotReady: _error(503),
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.sandbox = sandbox
    return Guard(app, access)


def _json(request: Request, answer: Callable[[], Answer]) -> Response:
    result = answer()
    if request.query_params.get("etag") == result.etag:
        body = json.dumps({"unchanged": True, "etag": result.etag}).encode()
    else:
        body = result.body
    headers = {"etag": f'"{result.etag}"', **_NO_STORE}
    return Response(body, media_type="application/json", headers=headers)


def _error(status: int) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=status, headers=_NO_STORE)

    return handle


def _param(request: Request, name: str, default: str | None = None) -> str:
    value = request.query_params.get(name, default)
    if value is None:
        raise BadRequest(f"missing the query parameter {name!r}")
    return value


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{what} must be a whole number, got {text!r}") from None


def _int_list(text: str) -> list[int]:
    return [_int(part, "each trial") for part in text.split(",") if part.strip()]


def _round_key(request: Request) -> RoundKey:
    return RoundKey(
        _param(request, "project"),
        _param(request, "client"),
        _int(_param(request, "round"), "round"),
    )


def _json_round(text: str) -> RoundKey:
    try:
        project, client, number = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"round must be JSON [project, client, number], got {text!r}") from exc
    if not (isinstance(project, str) and isinstance(client, str) and isinstance(number, int)):
        raise BadRequest(f"round must be JSON [project, client, number], got {text!r}")
    return RoundKey(project, client, number)


def _query_text(query: object) -> str:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("the query is empty")
    if len(query) > _MAX_QUERY:
        raise BadRequest(f"the query is longer than {_MAX_QUERY:,} characters")
    return query


def _csv_chunks(first: list[Any], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(first)
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i % 5000 == 4999:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
