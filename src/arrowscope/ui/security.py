"""Who may ask the app anything: the token, the Host header, and the response headers.

* **Token.** Bound to a loopback address, the app needs no token (unless one
  is given). Bound to any other address it always needs one: a request
  without it gets 401. The token travels once in the URL printed at start
  (``/?token=…``); the answer sets it as a cookie (HttpOnly, SameSite=Strict,
  named after the port), so later requests carry it without showing it.
  ``Authorization: Bearer <token>`` works too, for scripts.
* **Host.** On loopback, a request whose ``Host`` header names another host
  is refused (403): a web page elsewhere cannot reach the app by pointing
  its own domain name at 127.0.0.1 (DNS rebinding).
* **Headers.** Every answer forbids framing, sniffing and referrers, and
  carries a Content-Security-Policy that lets pages load and connect to the
  app itself only.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# plotly.js styles its charts inline and compiles WebGL shaders with
# Function() (parallel coordinates): hence 'unsafe-inline' styles and
# 'unsafe-eval' scripts. Nothing is loaded or sent anywhere but 'self'.
CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS: Final = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address to bind) is this machine only."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Access:
    """The rules of one running app.

    Args:
        host: the address the app is bound to.
        port: its port.
        token: the token requests must carry, or None (loopback only).
    """

    host: str
    port: int
    token: str | None

    @property
    def cookie_name(self) -> str:
        """The cookie holding the token (cookies are per host, not per port)."""
        return f"arrowscope_token_{self.port}"

    def url(self, path: str = "/") -> str:
        """The URL to open, with the token when one is needed."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}{path}{query}"


class Guard:
    """ASGI middleware applying :class:`Access` to every HTTP request."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self._host_allowed(headers.get("host", "")):
            await _plain(send, 403, "403: this address is not the one arrowscope ui listens on")
            return
        set_cookie = False
        if self.access.token is not None:
            given = _given_tokens(scope, headers, self.access.cookie_name)
            if not any(hmac.compare_digest(t, self.access.token) for t, _src in given):
                await _plain(
                    send,
                    401,
                    "401: this arrowscope ui needs its token: open the URL it printed at start "
                    "(http://HOST:PORT/?token=...)",
                )
                return
            set_cookie = all(src == "query" for _t, src in given)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(_HEADERS)
                if set_cookie:
                    cookie = (
                        f"{self.access.cookie_name}={self.access.token}; Path=/; HttpOnly; "
                        "SameSite=Strict"
                    )
                    extra.append((b"set-cookie", cookie.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _host_allowed(self, host_header: str) -> bool:
        if not is_loopback(self.access.host):
            return True  # reachable by any name; the token guards it
        name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        return name.lower() in _LOOPBACK_NAMES or is_loopback(name)


def _given_tokens(scope: Scope, headers: dict[str, str], cookie_name: str) -> list[tuple[str, str]]:
    given: list[tuple[str, str]] = []
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    given += [(t, "query") for t in query.get("token", [])]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given.append((auth[7:].strip(), "header"))
    if "cookie" in headers:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(headers["cookie"])
        except Exception:  # a malformed cookie header carries no token
            return given
        if cookie_name in cookie:
            given.append((cookie[cookie_name].value, "cookie"))
    return given


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *_HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
