"""HTTP for plugins, done by the host: the request itself, mocks, loopback stand-ins.

The allow-list is not here: `functions._http_request` (the host's replacement of the kernel's
`http_request`) checks the plugin's effective hosts (`grants.host_allowed`) and audits the
decision before calling `perform`. So a mock answers only a request that the permissions already
let through, exactly as the real call would be. Redirects are not followed: a redirect to a host
outside the allow-list would otherwise slip through; the plugin sees the 3xx response.
The whole request (connect, headers, body) is bounded by the call's remaining time, a body over
`MAX_RESPONSE_BYTES` or shorter than its Content-Length is an error, and the Host header is always
the granted host's.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_RESPONSE_BYTES = 16 << 20


@dataclass(frozen=True)
class MockResponse:
    status: int = 200
    body: bytes = b""


@dataclass
class HttpSettings:
    """Per-host HTTP behaviour: `mocks` (URL glob → response) answer without a network;
    `resolve` (host → base URL) sends a host's requests elsewhere, e.g. to a loopback server
    standing in for a real API (the permission check still uses the original host)."""

    mocks: dict[str, MockResponse] = field(default_factory=dict)
    resolve: dict[str, str] = field(default_factory=dict)
    #: only mocks answer (plugin.yaml's tests): a request no mock matches fails, naming the URL
    mocks_only: bool = False

    @staticmethod
    def mocks_from_doc(doc: Mapping[str, Any]) -> dict[str, MockResponse]:
        """plugin.yaml `tests[].http_mock` form: {"https://host/*": {status, body | json}}."""
        out = {}
        for pattern, resp in doc.items():
            resp = resp if isinstance(resp, Mapping) else {"body": resp}
            if "json" in resp and "body" not in resp:
                body: Any = json.dumps(resp["json"])
            else:
                body = resp.get("body", "")
            out[str(pattern)] = MockResponse(
                int(resp.get("status", 200)), body.encode() if isinstance(body, str) else bytes(body)
            )
        return out

    def mock_for(self, url: str) -> MockResponse | None:
        for pattern, resp in self.mocks.items():
            if fnmatch.fnmatchcase(url, pattern):
                return resp
        return None

    def target(self, url: str) -> tuple[str, str | None]:
        """(URL to fetch, Host header to send) after `resolve`."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        base = self.resolve.get(f"{host}:{parts.port}") if parts.port else None
        base = base or self.resolve.get(host)
        if not base:
            return url, None
        b = urlsplit(base)
        return urlunsplit((b.scheme, b.netloc, (b.path.rstrip("/") + parts.path) or "/", parts.query, "")), parts.netloc


class NoMockError(OSError):
    """A request in a mocks-only run that no mock answers."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Deadline:
    """The whole request's time budget. A socket timeout bounds each read only, so a server that
    dribbles a byte at a time could hold a call far past its timeout_ms (issue 15, item 6): at
    the deadline a timer shuts the request's sockets down, which ends any read in progress."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            expired = self.expired
        if expired:
            self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._timer.cancel()


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """An opener whose connections report their sockets to `deadline`."""

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class TLSConn(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(Conn, req)

    class TLS(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(TLSConn, req, context=ssl.create_default_context())

    return urllib.request.build_opener(_NoRedirect(), Plain(), TLS())


def _read_body(resp: Any, what: str, method: str) -> bytes:
    """The whole body, or an error: a body cut at the cap, or shorter than its Content-Length,
    returned as complete would be a wrong answer the plugin cannot tell from a right one (issue 15,
    item 20). (`HTTPResponse.read(n)` returns a cut-short body without complaint.)"""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = resp.read(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise ResponseTooLargeError(
                f"{what}: the response body is over {MAX_RESPONSE_BYTES >> 20} MiB, the most a plugin may receive"
            )
    declared = (resp.headers.get("Content-Length") or "").strip()
    if method != "HEAD" and declared.isdigit() and int(declared) != total:
        raise OSError(f"{what}: the response body is shorter than its Content-Length ({total} of {declared} bytes)")
    return b"".join(chunks)


class ResponseTooLargeError(OSError):
    """A response body over `MAX_RESPONSE_BYTES`."""


def response_headers(message: Any) -> dict[str, str]:
    """A response's headers as the kernel's `http_headers` gives them: one JSON object, names in
    lower case, repeated headers joined with ", " (RFC 9110's list form)."""
    out: dict[str, str] = {}
    for name, value in message.items():
        key = str(name).lower()
        out[key] = f"{out[key]}, {value}" if key in out else str(value)
    return out


def perform(
    method: str, url: str, headers: Mapping[str, str], body: bytes, settings: HttpSettings, timeout_s: float
) -> tuple[int, bytes, dict[str, str]]:
    """Do the request (or answer it from a mock) within `timeout_s` overall; returns (status, body,
    response headers). Raises `OSError` (a timeout, a connection failure, a body over the cap or
    cut short)."""
    mock = settings.mock_for(url)
    if mock is not None:
        return mock.status, mock.body, {}
    if settings.mocks_only:
        raise NoMockError(f"{method} {url} has no http_mock in this test (add a pattern that matches it)")
    target, host_header = settings.target(url)
    req = urllib.request.Request(target, data=body or None, method=method.upper() or "GET")
    for k, v in headers.items():
        # The Host header names the granted host, never one the plugin chose (a plugin's `Host:
        # internal-admin` would otherwise reach a virtual host it was never granted).
        if str(k).strip().lower() == "host":
            continue
        req.add_header(str(k), str(v))
    if host_header:
        req.add_header("Host", host_header)
    budget = max(timeout_s, 0.001)
    what = f"{method} {urlsplit(url).netloc}"
    with _Deadline(budget) as deadline:
        try:
            try:
                with _opener(deadline).open(req, timeout=budget) as resp:
                    return resp.status, _read_body(resp, what, req.get_method()), response_headers(resp.headers)
            except urllib.error.HTTPError as exc:
                with exc:
                    return exc.code, _read_body(exc, what, req.get_method()), response_headers(exc.headers)
        except (OSError, http.client.HTTPException) as exc:
            if deadline.expired:
                raise TimeoutError(f"no complete response within the call's remaining {budget * 1000:.0f} ms") from None
            if isinstance(exc, OSError):
                raise
            # IncompleteRead and friends: a body shorter than announced is an error, not a result.
            raise OSError(f"{type(exc).__name__}: {exc}") from None
