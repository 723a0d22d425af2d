"""HTTP for plugins, done by the host: the request itself, mocks, loopback stand-ins.

The allow-list is not here: `functions._http_request` (the host's replacement of the kernel's
`http_request`) checks the plugin's effective hosts (`grants.host_allowed`) and audits the
decision before calling `perform`. So a mock answers only a request that the permissions already
let through, exactly as the real call would be. Redirects are not followed: a redirect to a host
outside the allow-list would otherwise slip through; the plugin sees the 3xx response.
"""

from __future__ import annotations

import fnmatch
import json
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


_OPENER = urllib.request.build_opener(_NoRedirect())


def perform(
    method: str, url: str, headers: Mapping[str, str], body: bytes, settings: HttpSettings, timeout_s: float
) -> tuple[int, bytes]:
    """Do the request (or answer it from a mock); returns (status, body)."""
    mock = settings.mock_for(url)
    if mock is not None:
        return mock.status, mock.body
    if settings.mocks_only:
        raise NoMockError(f"{method} {url} has no http_mock in this test (add a pattern that matches it)")
    target, host_header = settings.target(url)
    req = urllib.request.Request(target, data=body or None, method=method.upper() or "GET")
    for k, v in headers.items():
        req.add_header(str(k), str(v))
    if host_header:
        req.add_header("Host", host_header)
    try:
        with _OPENER.open(req, timeout=max(timeout_s, 0.001)) as resp:
            return resp.status, resp.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(MAX_RESPONSE_BYTES)
