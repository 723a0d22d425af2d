"""Replicas behind a round-robin balancer serve 2025-11-25 sessions without stickiness
(`--replica ID`, `mcp.replicas`): a session id names its replica, the others forward to it, found
through `--peer` or the replicas' registrations in the Redis kv store. Every request here is on a
fresh connection through the proxy, so consecutive requests of one session land on different
replicas."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from extism_platform.audit import read_records
from tests.conftest import run_cli
from tests.run.conftest import PROBE
from tests.run.mcp_http import (
    LEGACY,
    RoundRobinProxy,
    free_port,
    legacy_call,
    legacy_session,
    mcp_server,
    modern_call,
    post,
    redis_server,
    replica_args,
    structured,
)

ECHO = "examples_probe-echo"


def _calls(root: Path) -> list[str]:
    return [r["export"] for r in read_records(root / "audit.jsonl") if r["kind"] == "call"]


def _session_calls(port: int, sid: str, n: int) -> list[Any]:
    replies = [legacy_call(port, sid, ECHO, {"text": f"call {i}"}, rid=10 + i) for i in range(n)]
    for i, reply in enumerate(replies):
        assert structured(reply) == {"text": f"call {i}"}, reply
    return replies


@contextlib.contextmanager
def _pair(built: dict, tmp: Path, extra_a: list[str], extra_b: list[str], ports: tuple[int, int]) -> Iterator[Any]:
    a, b = tmp / "a", tmp / "b"
    args_a = replica_args(built["dist"], a, "--replica", "a", *extra_a)
    args_b = replica_args(built["dist"], b, "--replica", "b", *extra_b)
    with (
        mcp_server(args_a, tmp / "a.log", port=ports[0]) as (port_a, proc_a),
        mcp_server(args_b, tmp / "b.log", port=ports[1]) as (port_b, proc_b),
        RoundRobinProxy([port_a, port_b]) as proxy,
    ):
        yield proxy, (a, proc_a), (b, proc_b)


def _static_pair(built: dict, tmp: Path, a_knows: str = "b", b_knows: str = "a") -> Any:
    """Replicas a and b on ports chosen first, each told where `a_knows` / `b_knows` is: the other
    replica by default."""
    pa, pb = free_port(), free_port()
    url = {"a": f"http://127.0.0.1:{pb}/mcp", "b": f"http://127.0.0.1:{pa}/mcp"}
    return _pair(built, tmp, ["--peer", f"{a_knows}={url['a']}"], ["--peer", f"{b_knows}={url['b']}"], (pa, pb))


def test_a_2025_session_follows_its_replica_through_a_round_robin_balancer(built: dict, tmp_path: Path) -> None:
    with _static_pair(built, tmp_path) as (proxy, (a, _), (b, _)):
        sid = legacy_session(proxy.port)  # initialize → a, notifications/initialized → b, forwarded to a
        assert sid.startswith("a.w0."), sid
        replies = _session_calls(proxy.port, sid, 4)
        forwarded = [r.headers.get("x-extism-forwarded-by") for r in replies]
        assert forwarded.count("b/0") == 2 and forwarded.count(None) == 2, forwarded
        assert proxy.picked == {port: 3 for port in proxy.backends}
    # every call ran in the replica that holds the session; the other only relayed
    assert _calls(a) == ["echo"] * 4
    assert _calls(b) == []


def test_replicas_find_each_other_through_the_redis_kv_store(built: dict, tmp_path: Path) -> None:
    with redis_server(tmp_path) as port:
        kv = ["--kv", f"redis://127.0.0.1:{port}/0", "--grant", f"{PROBE}:host_function=kv"]
        # b runs two workers: the forwarded request then finds the worker inside b too
        with _pair(built, tmp_path, kv, [*kv, "--workers", "2"], (free_port(), free_port())) as (proxy, (a, _), _b):
            sessions = []
            for i in range(3):  # a stateless call between handshakes moves the next initialize on
                sessions.append(legacy_session(proxy.port))
                assert structured(modern_call(proxy.port, ECHO, {"text": "x"}, rid=100 + i)) == {"text": "x"}
            owners = {sid.split(".", 1)[0] for sid in sessions}
            assert owners == {"a", "b"}, sessions
            for sid in sessions:
                _session_calls(proxy.port, sid, 3)
            # and the kv value written through one replica's session is read through the other's
            by_owner = {sid.split(".", 1)[0]: sid for sid in sessions}
            stored = legacy_call(proxy.port, by_owner["a"], "examples_probe-remember", {"key": "k", "value": "v"})
            assert stored.status == 200 and not stored.body["result"].get("isError"), stored
            read = legacy_call(proxy.port, by_owner["b"], "examples_probe-recall", {"key": "k"})
            assert json.loads(read.body["result"]["content"][0]["text"]) == {"value": "v"}
    assert "remember" in _calls(a)


def test_a_session_whose_replica_is_gone_is_told_to_initialize_again(built: dict, tmp_path: Path) -> None:
    with _static_pair(built, tmp_path) as (proxy, (_a, proc_a), _b):
        pa, pb = proxy.backends
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        }
        sid = post(pa, init).headers["mcp-session-id"]
        proc_a.terminate()
        proc_a.wait(timeout=15)
        reply = legacy_call(pb, sid, ECHO, {"text": "x"})
        assert reply.status == 404, reply
        message = reply.body["error"]["message"]
        assert "replica a" in message and "initialize again" in message, message
        # a replica no directory knows: the same answer, at once
        unknown = legacy_call(pb, "zz.w0." + sid.split(".", 2)[2], ECHO, {"text": "x"})
        assert unknown.status == 404 and "replica zz" in unknown.body["error"]["message"], unknown


def test_a_forwarded_request_is_never_forwarded_again(built: dict, tmp_path: Path) -> None:
    # two directories that disagree (a thinks c is at b; b thinks c is at a) must not loop
    with _static_pair(built, tmp_path, a_knows="c", b_knows="c") as (proxy, _a, _b):
        pb = proxy.backends[1]
        reply = legacy_call(pb, "c.w0.0123456789abcdef", ECHO, {"text": "x"})
        assert reply.status == 404, reply
        assert "forwarded here but is not held here" in reply.body["error"]["message"], reply


def test_replica_options_are_checked_before_anything_loads(built: dict, tmp_path: Path) -> None:
    server = ["-m", "extism_platform.cli.mcp_server", "--dist", str(built["dist"])]
    cases = [
        (["--peer", "b=http://127.0.0.1:1/mcp"], "--advertise and --peer need --replica ID"),
        (["--replica", "a"], "--replica ID needs --http HOST:PORT"),
        (["--replica", "A_1", "--http", "127.0.0.1:0"], "a replica id is 1–32 of a-z"),
        (["--replica", "a", "--http", "127.0.0.1:0", "--peer", "b"], "write ID=URL"),
        (["--replica", "a", "--http", "127.0.0.1:0", "--peer", "b=ftp://x/"], "give the replica's MCP endpoint"),
        (["--replica", "a", "--http", "127.0.0.1:0", "--peer", "b=http://u:secret@h/mcp"], "no credentials"),
        (["--replica", "a", "--http", "127.0.0.1:0", "--peer", "a=http://h/mcp"], "this replica's own id"),
    ]
    for extra, expected in cases:
        r = run_cli(*server, *extra)
        assert r.returncode == 1 and expected in r.stderr, (extra, r.stderr)
        assert "Traceback" not in r.stderr and "secret" not in r.stderr, r.stderr


def test_a_wildcard_bind_on_redis_needs_an_advertised_address(built: dict, tmp_path: Path) -> None:
    with redis_server(tmp_path) as port:
        r = run_cli(
            "-m",
            "extism_platform.cli.mcp_server",
            "--dist",
            str(built["dist"]),
            "--state-dir",
            str(tmp_path / "state"),
            "--kv",
            f"redis://127.0.0.1:{port}/0",
            "--replica",
            "a",
            "--http",
            "0.0.0.0:0",
            "--insecure-no-auth",
        )
    assert r.returncode != 0 and "give --advertise URL" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
