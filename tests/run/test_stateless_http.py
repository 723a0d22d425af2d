"""`mcp.stateless_http`: the short way of 2026-07-28 `tools/call` / `tools/list` answers exactly
as the SDK's whole way does (same status, content type and JSON-RPC message, request for request,
in one server), hands everything it does not take to the SDK untouched, and a client that hangs
up mid-call cancels the call (its slot is free at once, the audit log says `cancelled`)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from extism_platform.audit import read_records
from extism_platform.mcp.server import ExtismMCPServer
from extism_platform.mcp.stateless_http import ModernShortcut
from tests.run.mcp_http import _META, MODERN, mcp_server, modern_call, structured

ECHO, SPIN, LIST = "examples_probe-echo", "examples_probe-spin", "extism_plugins"
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "host": "127.0.0.1:8000",
    "mcp-protocol-version": MODERN,
}


def _call(tool: str, arguments: Any, rid: Any = 1, **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": _META, **params},
    }


def _routing(tool: str, method: str = "tools/call") -> dict[str, str]:
    return {"mcp-method": method, "mcp-name": tool}


#: (why, body, extra or replaced headers, headers to drop)
CASES: list[tuple[str, Any, dict[str, str], tuple[str, ...]]] = [
    ("a call", _call(ECHO, {"text": "hi"}), _routing(ECHO), ()),
    ("a string id", _call(ECHO, {"text": "hi"}, rid="req-7"), _routing(ECHO), ()),
    ("a built-in tool", _call(LIST, {}), _routing(LIST), ()),
    (
        "tools/list",
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": _META}},
        {"mcp-method": "tools/list"},
        (),
    ),
    ("an unknown tool", _call("nope", {}), _routing("nope"), ()),
    ("invalid arguments", _call(ECHO, {"text": 5}), _routing(ECHO), ()),
    ("arguments not an object", _call(ECHO, [1]), _routing(ECHO), ()),
    ("Mcp-Name not the body's name", _call(ECHO, {"text": "hi"}), _routing(SPIN), ()),
    ("no Mcp-Name", _call(ECHO, {"text": "hi"}), {"mcp-method": "tools/call"}, ()),
    ("Mcp-Method not the body's", _call(ECHO, {"text": "hi"}), _routing(ECHO, "tools/list"), ()),
    (
        "no clientInfo in _meta",
        {
            **_call(ECHO, {"text": "hi"}),
            "params": {
                "name": ECHO,
                "arguments": {"text": "hi"},
                "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN},
            },
        },
        _routing(ECHO),
        (),
    ),
    (
        "_meta version not the header's",
        {
            **_call(ECHO, {}),
            "params": {
                "name": ECHO,
                "arguments": {"text": "x"},
                "_meta": {**_META, "io.modelcontextprotocol/protocolVersion": "2025-11-25"},
            },
        },
        _routing(ECHO),
        (),
    ),
    ("not JSON", b"{not json", _routing(ECHO), ()),
    ("a batch", [_call(ECHO, {"text": "hi"})], _routing(ECHO), ()),
    ("a notification", {"jsonrpc": "2.0", "method": "tools/call", "params": {}}, _routing(ECHO), ()),
    ("a bool id", _call(ECHO, {"text": "hi"}, rid=True), _routing(ECHO), ()),
    ("a foreign Host", _call(ECHO, {"text": "hi"}), {**_routing(ECHO), "host": "evil.example:8000"}, ()),
    ("a foreign Origin", _call(ECHO, {"text": "hi"}), {**_routing(ECHO), "origin": "http://evil.example"}, ()),
    ("a loopback Origin", _call(ECHO, {"text": "hi"}), {**_routing(ECHO), "origin": "http://localhost:3000"}, ()),
    ("Accept JSON only", _call(ECHO, {"text": "hi"}), {**_routing(ECHO), "accept": "application/json"}, ()),
    ("Accept */*", _call(ECHO, {"text": "hi"}), {**_routing(ECHO), "accept": "*/*"}, ()),
    ("no Content-Type", _call(ECHO, {"text": "hi"}), _routing(ECHO), ("content-type",)),
    ("Mcp-Param header", _call(ECHO, {"text": "hi"}), {**_routing(ECHO), "mcp-param-text": "other"}, ()),
    ("a task-augmented call", _call(ECHO, {"text": "hi"}, task={"ttl": 1000}), _routing(ECHO), ()),
    (
        "a progress token",
        {
            **_call(ECHO, {}),
            "params": {"name": ECHO, "arguments": {"text": "p"}, "_meta": {**_META, "progressToken": "t1"}},
        },
        _routing(ECHO),
        (),
    ),
    (
        "a 2025 version header",
        _call(ECHO, {"text": "hi"}),
        {**_routing(ECHO), "mcp-protocol-version": "2025-11-25"},
        (),
    ),
]


class _Exchange:
    """One ASGI request to `app`, the response collected."""

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/mcp",
            "raw_path": b"/mcp",
            "query_string": b"",
            "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        self.messages: list[dict[str, Any]] = [{"type": "http.request", "body": body, "more_body": False}]
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.done = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.messages:
            return self.messages.pop(0)
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self.done.set()

    async def run(self, app: Any) -> tuple[int, str, Any]:
        await asyncio.wait_for(app(self.scope, self.receive, self.send), 30)
        kind = self.headers.get("content-type", "")
        if kind.startswith("text/event-stream"):
            data = [line[5:].strip() for line in self.body.decode().splitlines() if line.startswith("data:")]
            message: Any = json.loads(data[-1])
        elif kind.startswith("application/json"):
            message = json.loads(self.body)
        else:
            message = self.body.decode(errors="replace")
        if isinstance(message, dict):
            # `_meta.serverInfo` and the like are the same; a result's wall-clock fields are not in these tools
            message = json.loads(json.dumps(message, sort_keys=True))
        return self.status, kind.split(";")[0], message


def _request(body: Any, extra: dict[str, str], drop: tuple[str, ...]) -> tuple[bytes, dict[str, str]]:
    """A case's body bytes and headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**HEADERS, **extra, "content-length": str(len(raw))}
    for name in drop:
        headers.pop(name, None)
    return raw, headers


def test_short_way_answers_as_the_sdk_does(make_host: Any) -> None:
    server = ExtismMCPServer(make_host(), transport="http")
    short = server.http_app("127.0.0.1")
    assert isinstance(short, ModernShortcut)  # loopback: no gates around it
    sdk_app = short.app
    results: list[tuple[str, Any, Any]] = []

    async def main() -> None:
        async with sdk_app.router.lifespan_context(sdk_app):
            for why, body, extra, drop in CASES:
                raw, headers = _request(body, extra, drop)
                ours = await _Exchange(raw, headers).run(short)
                theirs = await _Exchange(raw, headers).run(sdk_app)
                results.append((why, ours, theirs))

    asyncio.run(main())
    differ = [(why, ours, theirs) for why, ours, theirs in results if ours != theirs]
    assert not differ, "\n".join(f"{why}: short way {o} vs SDK {t}" for why, o, t in differ)
    by_why = {why: ours for why, ours, _ in results}
    # the cases mean what they say: a call answered, errors refused, a DNS-rebinding Host refused
    assert by_why["a call"][0] == 200 and by_why["a call"][2]["result"]["structuredContent"] == {"text": "hi"}
    assert by_why["an unknown tool"][2]["error"]["code"] == -32602
    assert by_why["a foreign Host"][0] in (403, 421)
    assert by_why["Accept JSON only"][0] == 406
    assert by_why["a progress token"][0] == 200


def test_short_way_takes_only_modern_tool_requests(make_host: Any) -> None:
    """Which cases the short way takes (a spy on the SDK's app sees the ones handed on): calls and
    lists, known tool or not; never a progress token, a JSON-only Accept or a 2025 session."""
    server = ExtismMCPServer(make_host(), transport="http")
    short = server.http_app("127.0.0.1")
    taken: list[bool] = []
    real = short.app

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        taken.append(False)
        await real(scope, receive, send)

    short.app = spy

    async def main() -> None:
        async with real.router.lifespan_context(real):
            for _, body, extra, drop in CASES:
                raw, headers = _request(body, extra, drop)
                before = len(taken)
                await _Exchange(raw, headers).run(short)
                if len(taken) == before:
                    taken.append(True)

    asyncio.run(main())
    short_way = {why for (why, *_), took in zip(CASES, taken, strict=True) if took}
    assert "a call" in short_way and "tools/list" in short_way and "an unknown tool" in short_way
    for handed_on in ("a progress token", "Accept JSON only", "a 2025 version header"):
        assert handed_on not in short_way


def test_client_hanging_up_cancels_the_call(built: dict, tmp_path: Path) -> None:
    """2026-07-28 cancels by closing the response stream: with --max-concurrency 1, a spin whose
    client hung up gives its slot to the next call at once, and the audit log records it cancelled."""
    audit = tmp_path / "audit.jsonl"
    args = ["--dist", str(built["dist"]), "--trust-key", str(built["pub"]), "--max-concurrency", "1", "--warm"]
    args += ["--grant", "@examples/probe:timeout_ms=20000", "--audit-log", str(audit), "--state-dir", str(tmp_path)]
    with mcp_server(args, tmp_path / "server.log") as (port, _):
        structured(modern_call(port, ECHO, {"text": "warm"}))
        body = json.dumps(_call(SPIN, {})).encode()
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\nMcp-Protocol-Version: {MODERN}\r\n"
            f"Mcp-Method: tools/call\r\nMcp-Name: {SPIN}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(head.encode() + body)
        time.sleep(0.5)  # the spin holds the one slot
        sock.close()
        started = time.monotonic()
        assert structured(modern_call(port, ECHO, {"text": "next"})) == {"text": "next"}
        waited = time.monotonic() - started
    records = [r for r in read_records(audit) if r.get("kind") == "call"]
    (spin,) = [r for r in records if r["export"] == "spin"]
    assert spin["outcome"] == "cancelled", spin
    assert waited < 5, f"the next call waited {waited:.1f} s behind a spin whose client had gone"


@pytest.mark.parametrize("size", [8 << 20])
def test_oversized_body_is_the_sdks_413(make_host: Any, size: int) -> None:
    """A body over the SDK's limit whose Content-Length claims less: handed on, refused by the SDK."""
    server = ExtismMCPServer(make_host(), transport="http")
    short = server.http_app("127.0.0.1")

    async def main() -> tuple[int, str, Any]:
        async with short.app.router.lifespan_context(short.app):
            raw = json.dumps(_call(ECHO, {"text": "x" * size})).encode()
            ex = _Exchange(raw, {**HEADERS, **_routing(ECHO), "content-length": "100"})
            return await ex.run(short)

    status, _, _ = asyncio.run(main())
    assert status == 413
