"""`extism-mcp-server --http … --workers N`: N processes behind one port (SO_REUSEPORT), both
protocol eras, and a killed worker replaced. Real servers on 127.0.0.1, raw HTTP requests."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import anyio

from tests.conftest import run_cli
from tests.run.conftest import PROBE
from tests.run.mcp_http import (
    SERVER,
    legacy_call,
    legacy_session,
    mcp_server,
    modern_call,
    structured,
    wait_text,
)

ECHO = "examples_probe-echo"
ATTEMPTS = 200  # fresh connections tried until the kernel has picked every worker at least once


def _args(built: dict, tmp_path: Path, workers: int = 2) -> list[str]:
    return [
        "--dist",
        str(built["dist"]),
        "--grant",
        f"{PROBE}:host_function=kv",
        "--workers",
        str(workers),
        "--state-dir",
        str(tmp_path / "state"),
        "--audit-log",
        str(tmp_path / "audit.jsonl"),
    ]


def _pids(log: Path) -> list[int]:
    text = wait_text(log, "workers at http://")
    return [int(p) for p in re.search(r"workers at \S+ \(pids ([\d, ]+)\)", text)[1].split(", ")]


def _workers_seen(port: int, want: set[str]) -> set[str]:
    seen: set[str] = set()
    for i in range(ATTEMPTS):
        reply = modern_call(port, ECHO, {"text": f"call {i}"}, rid=i + 1)
        assert structured(reply) == {"text": f"call {i}"}
        seen.add(reply.headers["x-extism-worker"])
        if want <= seen:
            break
    return seen


def test_workers_share_one_port_and_each_answers(built: dict, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with mcp_server(_args(built, tmp_path, workers=2), log) as (port, _):
        pids = _pids(log)
        assert len(pids) == 2 and len(set(pids)) == 2
        assert _workers_seen(port, {"0", "1"}) == {"0", "1"}
        text = log.read_text()
        assert "worker 0 (pid" in text and "worker 1 (pid" in text and f"127.0.0.1:{port}/mcp" in text
    # every worker appended to the one audit log (flocked) and the chain holds
    r = run_cli(
        "-m",
        "extism_platform.cli.plugin",
        "audit-log",
        "verify",
        str(tmp_path / "audit.jsonl"),
        "--key",
        str(tmp_path / "state" / "audit.key"),
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_legacy_session_is_routed_to_the_worker_that_holds_it(built: dict, tmp_path: Path) -> None:
    """A 2025-11-25 session lives in one worker; requests that land on the other are forwarded."""
    log = tmp_path / "server.log"
    with mcp_server(_args(built, tmp_path), log) as (port, _):
        _pids(log)
        sid = legacy_session(port)
        owner = re.match(r"w(\d)\.", sid)
        assert owner, sid
        forwarded = direct = 0
        for i in range(ATTEMPTS):
            reply = legacy_call(port, sid, ECHO, {"text": f"legacy {i}"}, rid=i + 2)
            assert structured(reply) == {"text": f"legacy {i}"}
            assert reply.headers["x-extism-worker"] == owner[1]  # always answered by the owner
            if "x-extism-forwarded-by" in reply.headers:
                assert reply.headers["x-extism-forwarded-by"] != owner[1]
                forwarded += 1
            else:
                direct += 1
            if forwarded and direct:
                break
        assert forwarded and direct, (forwarded, direct)
        # The Python SDK client in both eras, against the same port.
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def main(mode: str) -> object:
            with anyio.fail_after(60):
                async with Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp"), mode=mode) as client:
                    await client.call_tool("examples_probe-remember", {"key": "era", "value": mode})
                    result = await client.call_tool("examples_probe-recall", {"key": "era"})
                    return json.loads(result.content[0].text)

        assert anyio.run(main, "legacy") == {"value": "legacy"}
        assert anyio.run(main, "auto") == {"value": "auto"}


def test_killed_worker_is_replaced(built: dict, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with mcp_server(_args(built, tmp_path), log) as (port, _):
        pids = _pids(log)
        sid = legacy_session(port)
        owner = int(re.match(r"w(\d)\.", sid)[1])
        os.kill(pids[owner], signal.SIGKILL)
        text = wait_text(log, f"worker {owner} replaced (pid")
        assert f"worker {owner} (pid {pids[owner]}) was killed by signal 9; starting a replacement" in text
        new_pid = int(re.search(rf"worker {owner} replaced \(pid (\d+)\)", text)[1])
        assert new_pid not in pids
        assert _workers_seen(port, {"0", "1"}) == {"0", "1"}  # both serve again
        # The dead worker's session is gone, and the client is told so (the SDK's 404: initialize again).
        reply = legacy_call(port, sid, ECHO, {"text": "after"})
        assert reply.status == 404, reply
        assert structured(legacy_call(port, legacy_session(port), ECHO, {"text": "new"}, rid=3)) == {"text": "new"}


def test_workers_need_http(built: dict, tmp_path: Path) -> None:
    r = run_cli(*SERVER, "--dist", str(built["dist"]), "--workers", "2", "--no-audit", cwd=tmp_path)
    assert r.returncode == 1 and "--workers N needs --http HOST:PORT" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(*SERVER, "--dist", str(built["dist"]), "--workers", "0", "--http", "127.0.0.1:1", cwd=tmp_path)
    assert r.returncode == 1 and "--workers 0: give at least 1" in r.stderr


def test_worker_that_cannot_start_stops_the_supervisor(tmp_path: Path) -> None:
    """Bad options fail once with the worker's error, not a restart loop."""
    r = run_cli(*SERVER, "--dist", str(tmp_path / "nope"), "--workers", "2", "--http", "127.0.0.1:0", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "not a directory" in r.stderr and "before it was ready; stopping" in r.stderr
    assert "replacement" not in r.stderr
