"""The HTTP gates in front of the streamable-HTTP app: `OriginGate` (browser origins on a
non-loopback address) and `BearerGate` (`Authorization: Bearer <token>`), plain ASGI wrappers."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach it."""
    import ipaddress  # noqa: PLC0415

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _refuse(send: Any, status: int, error: str, description: str) -> None:
    body = json.dumps({"error": error, "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class OriginGate:
    """ASGI wrapper for a non-loopback address: a request with an `Origin` header (a browser
    page's) is refused (403) unless that origin is allowed; MCP clients send none. Without it, any
    web page a user opens could drive the server (DNS rebinding, cross-site requests)."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app, self.allowed = app, {o.rstrip("/").lower() for o in allowed}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            origin = dict(scope.get("headers") or []).get(b"origin")
            if origin is not None and origin.decode("latin-1").rstrip("/").lower() not in self.allowed:
                await _refuse(send, 403, "forbidden_origin", "this origin may not use the server (--allow-origin)")
                return
        await self.app(scope, receive, send)


class BearerGate:
    """ASGI wrapper: HTTP requests must carry `Authorization: Bearer <token>` (else 401)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error":"unauthorized","error_description":"a bearer token is required"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="extism-mcp-server"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
