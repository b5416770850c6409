"""The app over HTTP: paths that cannot leave the app, the Host check, headers, answers."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _ui_data as d
import pytest

from arrowscope import cli

#: These tests start a process (the app).
pytestmark = pytest.mark.slow

TRAVERSALS = [
    "/static/../pyproject.toml",
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2E%2E%2F%2E%2E%2Fcli.py",
    "/static/..%2f..%2fcli.py",
    "/static/..%5c..%5ccli.py",
    "/static/%252e%252e/%252e%252e/cli.py",
    "/static/js/../../live.py",
    "/static/js/%2e%2e/%2e%2e/sql/home.sql",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/vendor/../../server.py",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static/..;/cli.py",
    "/static/index.html%00.js",
]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: str = ""
) -> Answer:
    """Send ``path`` exactly as written (no client-side normalisation)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        given = {"Host": parts.netloc, **(headers or {}), "content-length": str(len(body))}
        for name, value in given.items():
            connection.putheader(name, value)
        connection.endheaders(body.encode())
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, headers, response.read())
    finally:
        connection.close()


def get(url: str, path: str, headers: dict[str, str] | None = None) -> Answer:
    return request(url, path, headers)


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_cannot_reach_files_outside_the_app(ui_url: str, path: str) -> None:
    answer = get(ui_url, path)
    assert answer.status in (400, 404), (path, answer.status)
    assert b"root:" not in answer.body and b"def " not in answer.body
    assert b"[project]" not in answer.body


def test_the_app_serves_its_own_files_and_plotly(ui_url: str) -> None:
    for path, kind in [
        ("/", "text/html"),
        ("/static/js/app.js", "text/javascript"),
        ("/static/style.css", "text/css"),
        ("/static/vendor/plotly.min.js", "text/javascript"),
    ]:
        answer = get(ui_url, path)
        assert answer.status == 200 and answer.body
        assert answer.headers["content-type"].startswith(kind)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        assert answer.headers["x-frame-options"] == "DENY"


def test_a_request_naming_another_host_is_refused_on_loopback(ui_url: str) -> None:
    """A page on another site that points its name at 127.0.0.1 gets nothing (DNS rebinding)."""
    port = urllib.parse.urlsplit(ui_url).port
    assert get(ui_url, "/api/home", {"Host": f"evil.example:{port}"}).status == 403
    assert get(ui_url, "/api/home", {"Host": f"localhost:{port}"}).status == 200


def test_round_answers_and_etags(ui_url: str) -> None:
    query = urllib.parse.urlencode({"project": d.PROJECT, "client": d.CLIENT, "round": 0})
    answer = get(ui_url, f"/api/round?{query}")
    assert answer.status == 200
    payload = answer.json()
    etag = answer.headers["etag"].strip('"')
    assert payload["selected"] == d.ranking()[:5]
    assert [c["name"] for c in payload["hyperparams"]] == ["act", "depth", "lr", "opt"]
    kinds = {c["name"]: (c["kind"], c["log"], c["varies"]) for c in payload["hyperparams"]}
    assert kinds == {
        "act": ("text", False, True),
        "depth": ("number", False, True),
        "lr": ("number", True, True),
        "opt": ("text", False, False),
    }
    unchanged = get(ui_url, f"/api/round?{query}&etag={etag}").json()
    assert unchanged == {"unchanged": True, "etag": etag}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/round?project=vision&client=resnet&round=7", 404),
        ("/api/round?project=vision&client=resnet&round=x", 400),
        ("/api/round?project=vision", 400),
        ("/api/trial?project=vision&client=resnet&round=0&trial=999", 404),
        ("/api/compare?round=not-json", 400),
        ("/api/curves?project=vision&client=resnet&round=0&metric=acc&phase=valid&trials=1,x", 400),
        ("/api/sql.csv?query=copy%20trials%20to%20'x.csv'", 400),
        ("/api/nothing", 404),
    ],
)
def test_bad_requests_get_a_status_and_a_message(ui_url: str, path: str, status: int) -> None:
    answer = get(ui_url, path)
    assert answer.status == status
    if path != "/api/nothing":
        assert answer.json()["error"]


def test_sql_refusals_are_answers_shown_under_the_box(ui_url: str) -> None:
    body = json.dumps({"query": "attach '/tmp/arrowscope-ui.db'"})
    answer = request(ui_url, "/api/sql", {"content-type": "application/json"}, "POST", body)
    assert answer.status == 200
    assert "ATTACH" in answer.json()["error"]
    assert not Path("/tmp/arrowscope-ui.db").exists()


def test_report_command_writes_one_file(
    ui_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert cli.main(["report", str(ui_data), "--html", str(out), "--client", d.CLIENT]) == 0
    assert "round 1" in capsys.readouterr().out  # the client's latest round by default
    text = out.read_text()
    assert "<script src=" not in text and "<link" not in text  # nothing to fetch
    assert 'http-equiv="Content-Security-Policy"' in text
    assert d.HOSTILE not in text  # inlined JSON escapes '<' and '>'
    assert cli.main(["report", str(ui_data), "--html", str(out)]) == 2  # two clients: choose
    assert "choose one with --project/--client" in capsys.readouterr().err
