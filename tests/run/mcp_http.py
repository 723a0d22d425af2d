"""Raw MCP over streamable HTTP for the scale-out tests: one request per fresh connection (so a
load balancer or the kernel picks a backend each time), servers started on 127.0.0.1, and a
round-robin TCP proxy."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, free_port, stop_process

SERVER = ["-m", "extism_platform.cli.mcp_server"]
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any  # the JSON-RPC message (the last `data:` of an SSE answer), or None


def _parse(resp: http.client.HTTPResponse) -> Reply:
    raw = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    body: Any = None
    if raw:
        if headers.get("content-type", "").startswith("text/event-stream"):
            data = [line[5:].strip() for line in raw.decode().splitlines() if line.startswith("data:")]
            body = json.loads(data[-1]) if data and data[-1] else None
        else:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
    return Reply(resp.status, headers, body)


def post(port: int, message: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    """One POST to /mcp on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/mcp",
            body=json.dumps(message),
            headers={
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                **(headers or {}),
            },
        )
        return _parse(conn.getresponse())
    finally:
        conn.close()


def modern_call(port: int, tool: str, arguments: dict[str, Any], rid: int = 1) -> Reply:
    """A 2026-07-28 tools/call: no session, no handshake."""
    params = {"name": tool, "arguments": arguments, "_meta": _META}
    return post(
        port,
        {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params},
        {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": tool},
    )


def legacy_session(port: int) -> str:
    """A 2025-11-25 handshake; returns the session id."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "0"}},
    }
    reply = post(port, init)
    assert reply.status == 200, reply
    sid = reply.headers["mcp-session-id"]
    done = post(
        port,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"mcp-session-id": sid, "mcp-protocol-version": LEGACY},
    )
    assert done.status == 202, done
    return sid


def legacy_call(port: int, sid: str, tool: str, arguments: dict[str, Any], rid: int = 2) -> Reply:
    return post(
        port,
        {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": tool, "arguments": arguments}},
        {"mcp-session-id": sid, "mcp-protocol-version": LEGACY},
    )


def structured(reply: Reply) -> Any:
    assert reply.status == 200, reply
    result = reply.body["result"]
    assert not result.get("isError"), result
    return result.get("structuredContent")


def wait_port(port: int, proc: subprocess.Popen[Any], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"nothing listens on {port} after {timeout:.0f} s: {log.read_text()[-2000:]}"
                ) from None
            time.sleep(0.05)


def wait_text(path: Path, text: str, timeout: float = 60, count: int = 1) -> str:
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text() if path.exists() else ""
        if content.count(text) >= count:
            return content
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {path} after {timeout:.0f} s: {content[-2000:]}")
        time.sleep(0.05)


@contextlib.contextmanager
def mcp_server(
    args: list[str], log: Path, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[int, subprocess.Popen[Any]]]:
    """`extism-mcp-server ARGS --http 127.0.0.1:PORT`, its stderr in `log`; yields (port, process)."""
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if k != "EXTISM_MCP_TOKEN"}  # loopback: no token unless given
    full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, *SERVER, *args, "--http", f"127.0.0.1:{port}"],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_port(port, proc, log)
        yield port, proc
    finally:
        stop_process(proc, timeout=15)


def replica_args(dist: Path, root: Path, *extra: str) -> list[str]:
    """One replica's options: the plugins in `dist`, its own state dir and audit log under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    return ["--dist", str(dist), "--state-dir", str(root / "state"), "--audit-log", str(root / "audit.jsonl"), *extra]


@dataclass
class RoundRobinProxy:
    """A TCP proxy on 127.0.0.1 that sends each new connection to the next backend in turn (what a
    round-robin load balancer does); `picked` counts the connections each backend got."""

    backends: list[int]
    port: int = 0
    picked: dict[int, int] = field(default_factory=dict)

    def __enter__(self) -> RoundRobinProxy:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._next = itertools.cycle(self.backends)
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                backend = next(self._next)
                self.picked[backend] = self.picked.get(backend, 0) + 1
            try:
                upstream = socket.create_connection(("127.0.0.1", backend), timeout=30)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


NO_REDIS = "redis-server is not installed (`nox -s tests` installs Debian's redis-server when run as root)"


@contextlib.contextmanager
def redis_server(tmp: Path, password: str | None = None) -> Iterator[int]:
    """Debian's redis-server on 127.0.0.1 (no persistence), for one test; yields its port."""
    import pytest  # noqa: PLC0415

    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip(NO_REDIS)
    port = free_port()  # redis cannot bind port 0
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)]
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on {port}")
                time.sleep(0.05)
        yield port
    finally:
        stop_process(proc)
