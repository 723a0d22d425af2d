"""`extism-mcp-server --watch`: a rebuilt, added or removed plugin in a --dist directory is reloaded
(verified as at start-up) and announced as tools/list_changed to the real `mcp` client on both
protocol eras, over stdio and streamable HTTP; a tampered artifact is reported on stderr and the
previous tools keep serving; a call in flight during a swap finishes on the old plugin."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_dist
from extism_platform.host.watch import Watched
from extism_platform.mcp.server import ExtismMCPServer
from tests.conftest import ROOT, run_cli
from tests.run.conftest import PROBE, WEATHER, call_json, resign
from tests.run.mcp_http import mcp_server
from tests.run.test_mcp import SERVER

PROBE_STEM = "examples-probe-0.1.0"
WEATHER_STEM = "examples-weather-1.0.0"
SUFFIXES = (".wasm", ".plugin.json", ".sig")
BOUND = 15  # seconds: any one wait of these tests (a poll is 0.1 s, a reload a few ms)


def _copy(src: Path, stem: str, dest: Path) -> None:
    """Copy one build's three files the way a build tool would: each written whole, then renamed."""
    dest.mkdir(parents=True, exist_ok=True)
    for suffix in SUFFIXES:
        tmp = dest / f".{stem}{suffix}.tmp"
        shutil.copyfile(src / f"{stem}{suffix}", tmp)
        os.replace(tmp, dest / f"{stem}{suffix}")


def _remove(dist: Path, stem: str) -> None:
    for suffix in SUFFIXES:
        (dist / f"{stem}{suffix}").unlink()


def _args(built: dict[str, Path], dist: Path, tmp_path: Path) -> list[str]:
    return [
        "--dist",
        str(dist),
        "--trust-key",
        str(built["pub"]),
        "--watch",
        "--watch-interval",
        "0.1",
        "--audit-log",
        str(tmp_path / "audit.jsonl"),
        "--state-dir",
        str(tmp_path / "state"),
    ]


async def _wait_for_text(path: Path, text: str, after: int = 0) -> str:
    """The file's text from offset `after`, once `text` appears there."""
    with anyio.fail_after(BOUND):
        while True:
            content = path.read_text()[after:] if path.exists() else ""
            if text in content:
                return content
            await anyio.sleep(0.05)


class ListChanged:
    """tools/list_changed as the client sees it: on a listen stream (2026-07-28) or as a
    notification through the message handler (2025-11-25)."""

    def __init__(self) -> None:
        self.send, self.recv = anyio.create_memory_object_stream[str](16)
        self.others: list[str] = []  # prompts / resources list_changed notifications seen (2025-11-25)
        self.updated: list[str] = []  # notifications/resources/updated seen (2025-11-25)

    async def message_handler(self, message: Any) -> None:
        message = getattr(message, "root", message)
        if isinstance(message, types.ToolListChangedNotification):
            await self.send.send("notification")
        elif isinstance(message, types.PromptListChangedNotification | types.ResourceListChangedNotification):
            self.others.append(type(message).__name__)
        elif isinstance(message, types.ResourceUpdatedNotification):
            self.updated.append(str(message.params.uri))

    @asynccontextmanager
    async def waiter(self, client: Any) -> AsyncIterator[Callable[[], Awaitable[str]]]:
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            async with client.listen(tools_list_changed=True) as sub:

                async def next_event() -> str:
                    with anyio.fail_after(BOUND):
                        return type(await sub.__anext__()).__name__

                yield next_event
        else:

            async def next_notification() -> str:
                with anyio.fail_after(BOUND):
                    return await self.recv.receive()

            yield next_notification


async def _scenario(client: Any, changed: ListChanged, built: dict, dist: Path, stderr: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"version": client.protocol_version}
    caps = client.server_capabilities
    out["list_changed_advertised"] = caps.tools.list_changed
    out["others_advertised"] = (caps.prompts.list_changed, caps.resources.list_changed)
    out["before"] = {t.name for t in (await client.list_tools()).tools}
    await client.call_tool("examples_probe-echo", {"text": "warm"})
    if not modern_client(client):  # a URI not served yet: announced when a reload brings it, and again when it goes
        await client.subscribe_resource("extism://plugins/@examples/weather")
        await client.subscribe_resource("test://static-text")  # probe's: rebuilt identically, so never updated
    async with changed.waiter(client) as next_change:
        _copy(built["dist"], WEATHER_STEM, dist)  # a second plugin appears
        out["added_event"] = await next_change()
        out["added"] = {t.name for t in (await client.list_tools()).tools}
        out["prompts_added"] = {p.name for p in (await client.list_prompts()).prompts}
        out["resources_added"] = {str(r.uri) for r in (await client.list_resources()).resources}

        seen = len(stderr.read_text())
        wasm = dist / f"{PROBE_STEM}.wasm"  # a tampered rebuild: the signature no longer matches
        wasm.write_bytes(wasm.read_bytes() + b"\0")
        out["stderr"] = await _wait_for_text(stderr, "reload failed", after=seen)
        out["after_tamper"] = {t.name for t in (await client.list_tools()).tools}
        out["echo"] = await client.call_tool("examples_probe-echo", {"text": "still serving"})

        _copy(built["dist"], PROBE_STEM, dist)  # rebuilt properly: same tools, no list_changed
        _remove(dist, WEATHER_STEM)  # and the second plugin goes away
        out["removed_event"] = await next_change()
        out["removed"] = {t.name for t in (await client.list_tools()).tools}
        out["prompts_removed"] = {p.name for p in (await client.list_prompts()).prompts}
    with anyio.fail_after(BOUND):  # the prompts and resources notifications follow the tools one
        while not modern_client(client) and (len(changed.others) < 4 or len(changed.updated) < 2):
            await anyio.sleep(0.05)
    out["others"] = sorted(changed.others)
    out["updated"] = list(changed.updated)
    return out


def modern_client(client: Any) -> bool:
    return client.protocol_version in MODERN_PROTOCOL_VERSIONS


def _check(out: dict[str, Any], modern: bool) -> None:
    assert (out["version"] in MODERN_PROTOCOL_VERSIONS) == modern
    assert out["list_changed_advertised"] is True
    assert "examples_probe-echo" in out["before"] and not any(n.startswith("examples_weather") for n in out["before"])
    assert out["added_event"] == ("ToolsListChanged" if modern else "notification")
    assert out["added"] == out["before"] | {"examples_weather-get_weather"}
    assert "reload failed, still serving the previous plugins" in out["stderr"]
    assert "signature" in out["stderr"] or "sha256" in out["stderr"]
    assert out["after_tamper"] == out["added"]
    assert not out["echo"].is_error and out["echo"].structured_content == {"text": "still serving"}
    assert out["removed"] == out["before"]
    # prompts and resources (a plugin's own and its docs) come and go with the plugin, announced too
    assert out["others_advertised"] == (True, True)
    assert "weather_report" in out["prompts_added"] and "weather_report" not in out["prompts_removed"]
    assert "extism://plugins/@examples/weather" in out["resources_added"]
    if not modern:
        assert out["others"] == ["PromptListChangedNotification"] * 2 + ["ResourceListChangedNotification"] * 2
        assert out["updated"] == ["extism://plugins/@examples/weather"] * 2


def _watched_stdio(built: dict, tmp_path: Path) -> tuple[Path, Any]:
    """(the watched dist holding the probe, the stdio parameters of a server watching it)."""
    from mcp.client.stdio import StdioServerParameters

    dist = tmp_path / "dist"
    _copy(built["dist"], PROBE_STEM, dist)
    params = StdioServerParameters(
        command=sys.executable,
        args=[*SERVER, *_args(built, dist, tmp_path)],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )
    return dist, params


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_watch_stdio(built: dict, tmp_path: Path, mode: str) -> None:
    from mcp import Client
    from mcp.client.stdio import stdio_client

    dist, params = _watched_stdio(built, tmp_path)
    stderr = tmp_path / "stderr.txt"
    changed = ListChanged()

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60), stderr.open("w") as errlog:
            async with Client(
                stdio_client(params, errlog=errlog), mode=mode, message_handler=changed.message_handler
            ) as c:
                return await _scenario(c, changed, built, dist, stderr)

    out = anyio.run(main)
    _check(out, modern=mode == "auto")
    assert "reloaded (+@examples/weather)" in stderr.read_text()


@pytest.fixture()
def watched_http(built: dict, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    dist = tmp_path / "dist"
    _copy(built["dist"], PROBE_STEM, dist)
    stderr = tmp_path / "stderr.txt"
    with mcp_server(_args(built, dist, tmp_path), stderr) as (port, _):
        assert "(watching for changes)" in anyio.run(_wait_for_text, stderr, "serving")
        yield f"http://127.0.0.1:{port}/mcp", dist, stderr


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_watch_streamable_http(built: dict, watched_http: tuple[str, Path, Path], mode: str) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    url, dist, stderr = watched_http
    changed = ListChanged()

    async def main() -> dict[str, Any]:
        with anyio.fail_after(60):
            async with httpx2.AsyncClient(timeout=30) as http:
                transport = streamable_http_client(url, http_client=http)
                async with Client(transport, mode=mode, message_handler=changed.message_handler) as c:
                    return await _scenario(c, changed, built, dist, stderr)

    _check(anyio.run(main), modern=mode == "auto")


def test_watch_needs_a_polled_source(tmp_path: Path) -> None:
    r = run_cli(*SERVER, "--installed", "--watch", "--no-audit", cwd=tmp_path)
    assert r.returncode == 1 and "--watch needs --dist DIR or --project extism.yaml" in r.stderr


def test_help_shows_watch() -> None:
    r = run_cli(*SERVER, "--help")
    assert r.returncode == 0 and "--watch" in r.stdout and "--allow-unsigned --watch" in r.stdout


# ---- in process: the swap itself ---------------------------------------------------------------


class SlowAPI:
    """A loopback HTTP server that holds each request until `release` is set."""

    def __init__(self) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                api.arrived.set()
                api.release.wait(BOUND)
                body = b'{"slow":true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_call_in_flight_finishes_on_the_old_plugin(
    built: dict, make_host: Callable[..., Host], tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    _copy(built["dist"], PROBE_STEM, dist)
    _copy(built["dist"], WEATHER_STEM, dist)
    host = make_host(f"{PROBE}:host=127.0.0.1:*", dist=dist)  # the SlowAPI's port is random
    weather = host.plugins[WEATHER]
    old_probe = host.plugins[PROBE]
    api = SlowAPI()
    result: dict[str, Any] = {}
    try:
        t = threading.Thread(
            target=lambda: result.update(out=call_json(host, PROBE, "fetch", {"url": api.url})), daemon=True
        )
        t.start()
        assert api.arrived.wait(BOUND)
        # Rebuilt (another description) while the call is in flight.
        resign(built, PROBE_STEM, dist, lambda doc: doc.update(description="rebuilt"))
        plan = host.plan(from_dist(dist, keys=[], allow_unsigned=False))
        changes = host.swap(plan)
        assert (changes.added, changes.replaced, changes.removed) == ((), (PROBE,), ())
        assert host.plugins[WEATHER] is weather  # unchanged: same compiled module and pool
        assert host.plugins[PROBE] is not old_probe and host.plugins[PROBE].info.description == "rebuilt"
        api.release.set()
        t.join(BOUND)
        assert result["out"]["status"] == 200 and json.loads(result["out"]["body"]) == {"slow": True}
        assert call_json(host, PROBE, "echo", {"text": "new"}) == {"text": "new"}
    finally:
        api.close()
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert "unload" in kinds


def test_reload_keeps_serving_when_the_new_set_is_bad(
    built: dict, make_host: Callable[..., Host], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dist = tmp_path / "dist"
    _copy(built["dist"], PROBE_STEM, dist)
    host = make_host(dist=dist)
    watched = Watched(dirs=[dist], files=[], load=lambda: (host.grants, from_dist(dist, keys=[])))
    server = ExtismMCPServer(host, watched=watched)
    before = watched.fingerprint()
    tools = dict(server.tools)
    (dist / f"{PROBE_STEM}.sig").write_text("{}")
    assert watched.fingerprint() != before
    assert anyio.run(server.reload) is False
    assert server.tools == tools and server.reloads == 0
    resign(built, PROBE_STEM, dist, lambda doc: None, wasm=b"\0asm\1\0\0\0\xff")  # signed, not a module
    with caplog.at_level(logging.ERROR, logger="extism_platform.mcp.watch"):
        assert anyio.run(server.reload) is False  # compiled before the swap: refused
    assert f"plugin {PROBE} cannot be loaded" in caplog.text
    assert server.tools == tools and host.plugins[PROBE].sha256 == tools["examples_probe-echo"].plugin.sha256
    _copy(built["dist"], PROBE_STEM, dist)
    assert anyio.run(server.reload) is False  # the same build again: nothing to swap
    _copy(built["dist"], WEATHER_STEM, dist)
    assert anyio.run(server.reload) is True
    assert "examples_weather-get_weather" in server.tools and server.reloads == 1


def test_listen_stream_hears_of_prompts_resources_and_a_subscribed_resource(built: dict, tmp_path: Path) -> None:
    """2026-07-28: a `subscriptions/listen` stream asking for prompt and resource list changes and
    for one resource's updates gets all three when a reload brings the plugin that offers them."""
    from mcp import Client

    dist, params = _watched_stdio(built, tmp_path)
    docs = "extism://plugins/@examples/weather"

    async def main() -> list[str]:
        seen: list[str] = []
        with anyio.fail_after(60):
            async with Client(params) as client:
                assert client.protocol_version in MODERN_PROTOCOL_VERSIONS
                listen = client.listen(
                    prompts_list_changed=True, resources_list_changed=True, resource_subscriptions=[docs]
                )
                async with listen as sub:
                    _copy(built["dist"], WEATHER_STEM, dist)
                    with anyio.fail_after(BOUND):
                        async for event in sub:
                            seen.append(f"{type(event).__name__}:{getattr(event, 'uri', '')}")
                            if len(set(seen)) == 3:
                                break
        return seen

    seen = anyio.run(main)
    assert set(seen) == {"PromptsListChanged:", "ResourcesListChanged:", f"ResourceUpdated:{docs}"}
