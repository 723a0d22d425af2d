"""The short way in for 2026-07-28 `tools/call` and `tools/list` over streamable HTTP.

A 2026-07-28 request is one self-contained POST. The SDK's route to it passes through Starlette
(routing, three middlewares), the session manager, and then, in SSE mode, an anyio task group
with a memory stream and a deferral timer per request, so that a handler that sends
notifications can switch the response to `text/event-stream`. For a `tools/call` or `tools/list`
that carries no progress token, nothing is ever sent before the result: the SDK answers such a
request with plain JSON either way. That machinery cost ~30% of the server's Python time per call
(py-spy, `nox -s bench`'s HTTP rows).

`ModernShortcut` sits in front of the SDK's app and hands exactly those requests to the SDK's own
single-exchange handler (`handle_modern_request`) in its JSON mode, with the SDK's own transport
security settings and lifespan state: every check, error and byte of the answer is the SDK's.
Everything else (2025 sessions, GETs, other methods, any body that mentions a progress token, an
Accept without both JSON and SSE, bodies over the SDK's size limit) goes to the SDK's app
unchanged, with the body replayed. One thing the JSON mode does not do by itself is stop the
handler when the client disconnects (2026-07-28's way to cancel); this watches for the
disconnect and cancels the call.

It reaches into the SDK's private module and the session manager's lifespan state, which is why
`mcp` is pinned exactly; `tests/run/test_stateless_http.py` compares both ways answer for answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from mcp.server._streamable_http_modern import handle_modern_request
from mcp.server.streamable_http import check_accept_headers
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request

#: the methods whose 2026-07-28 requests take the short way (without a progress token they send
#: nothing before their result)
SHORT_METHODS = frozenset({b"tools/call", b"tools/list"})
_VERSIONS = frozenset(v.encode() for v in MODERN_PROTOCOL_VERSIONS)


class ModernShortcut:
    """ASGI: 2026-07-28 `tools/call` / `tools/list` POSTs on `path` to the SDK's JSON-mode
    single-exchange handler; everything else to `app` (the SDK's streamable-HTTP app of `server`)."""

    def __init__(self, app: Any, server: Any, path: str) -> None:
        self.app = app
        self.server = server
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        version = method = length = None
        for key, value in scope["headers"]:
            if key == b"mcp-protocol-version":
                version = value
            elif key == b"mcp-method":
                method = value
            elif key == b"content-length":
                length = value
        manager = getattr(self.server, "_session_manager", None)
        state = getattr(manager, "_lifespan_state", None)
        if version not in _VERSIONS or method not in SHORT_METHODS or manager is None or state is None:
            await self.app(scope, receive, send)
            return
        limit = manager.max_request_body_size
        if length is None or not length.isdigit() or int(length) > limit or not _accepts_both(scope):
            await self.app(scope, receive, send)
            return
        body, pending, complete = await _read(receive, limit)
        if not complete or b"progressToken" in body:
            await self.app(scope, _replay(pending, receive), send)
            return
        handler = asyncio.ensure_future(
            handle_modern_request(
                self.server, manager.security_settings, True, state, scope, _replay(pending, receive), send
            )
        )
        watch = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((handler, watch), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            handler.cancel()
            raise
        finally:
            watch.cancel()
        if not handler.done():  # the client went away: the call is cancelled (its plugin stopped)
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handler
            return
        handler.result()


def _accepts_both(scope: dict[str, Any]) -> bool:
    """Whether Accept names both JSON and SSE, as the SDK's SSE mode requires (else it answers 406,
    where its JSON mode would not): the SDK's own reading of the header."""
    has_json, has_sse = check_accept_headers(Request(scope))
    return has_json and has_sse


async def _read(receive: Any, limit: int) -> tuple[bytes, deque[dict[str, Any]], bool]:
    """(the body, every message received, whether the body is whole and within `limit`)."""
    pending: deque[dict[str, Any]] = deque()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        pending.append(message)
        if message["type"] != "http.request":
            return b"", pending, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", pending, False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), pending, True


def _replay(pending: deque[dict[str, Any]], receive: Any) -> Any:
    async def replay() -> dict[str, Any]:
        if pending:
            return pending.popleft()
        return await receive()

    return replay


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
