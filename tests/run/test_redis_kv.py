"""The kv store on Redis (`--kv redis://…` / extism.yaml `kv:`): the same semantics as the embedded
sqlite store, two replicas behind a round-robin proxy sharing it, and a password in the URL that
never reaches logs, errors or tool results. Debian's redis-server, started here on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from extism_platform.audit import read_records
from extism_platform.host.kv import MAX_KEY_BYTES, MAX_VALUE_BYTES, KVConflictError, KVStore, RedisKVStore, open_kv
from extism_platform.host.runtime import Host
from plugin_format.errors import PluginCallError, RunError
from tests.conftest import run_cli
from tests.run.conftest import PROBE, call_json
from tests.run.mcp_http import RoundRobinProxy, mcp_server, modern_call, redis_server, replica_args

PASSWORD = "pw-Zq8Xr4-never-shown"


@pytest.fixture()
def redis_port(tmp_path: Path) -> Iterator[int]:
    with redis_server(tmp_path) as port:
        yield port


# ---- the same semantics as sqlite ---------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def kv_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/kv.sqlite3"
        return
    with redis_server(tmp_path) as port:
        yield f"redis://127.0.0.1:{port}/0"


def test_kv_semantics_are_the_same_on_both_backends(kv_url: str) -> None:
    kv = open_kv(kv_url, None)
    try:
        assert isinstance(kv, RedisKVStore if kv_url.startswith("redis") else KVStore)
        assert kv.get("ns-a", b"k") is None  # absent reads as not set
        kv.set("ns-a", b"k", b"v1")
        kv.set("ns-a", b"k", b"v2")  # replaced, not appended
        assert kv.get("ns-a", b"k") == b"v2"
        # namespaces never overlap, whatever the keys hold
        kv.set("ns-a:b", b"c", b"one")
        kv.set("ns-a", b"b:c", b"two")
        assert (kv.get("ns-a:b", b"c"), kv.get("ns-a", b"b:c"), kv.get("ns-b", b"k")) == (b"one", b"two", None)
        # binary keys and values, empty value
        kv.set("ns-a", b"\x00\xff", b"\x01\x00\x02")
        kv.set("ns-a", b"empty", b"")
        assert kv.get("ns-a", b"\x00\xff") == b"\x01\x00\x02" and kv.get("ns-a", b"empty") == b""
        # the limits: exactly at them is fine, one byte over is refused and nothing is written
        kv.set("ns-a", b"x" * MAX_KEY_BYTES, b"y" * MAX_VALUE_BYTES)
        assert kv.get("ns-a", b"x" * MAX_KEY_BYTES) == b"y" * MAX_VALUE_BYTES
        with pytest.raises(ValueError, match="key ≤ 1024 bytes and value ≤ 1048576 bytes"):
            kv.set("ns-a", b"x" * (MAX_KEY_BYTES + 1), b"y")
        with pytest.raises(ValueError, match="value ≤ 1048576 bytes"):
            kv.set("ns-a", b"big", b"y" * (MAX_VALUE_BYTES + 1))
        assert kv.get("ns-a", b"big") is None
        kv.delete("ns-a", b"k")
        kv.delete("ns-a", b"never-there")  # deleting an absent key is fine
        assert kv.get("ns-a", b"k") is None and kv.get("ns-a:b", b"c") == b"one"
    finally:
        kv.close()


def test_apply_is_all_or_none_and_checks_expected_values_on_both_backends(kv_url: str) -> None:
    """`apply`: the package manager's commit of a hook's writes with its install record. A batch
    lands whole; an expected value that another writer changed meanwhile refuses the whole batch."""
    kv = open_kv(kv_url, None)
    try:
        kv.set("ns", b"seen", b"v1")
        kv.set("ns", b"gone", b"x")
        kv.apply([("ns", b"a", b"1"), ("ns", b"gone", None), ("other", b"b", b"2")], [("ns", b"seen", b"v1")])
        assert (kv.get("ns", b"a"), kv.get("ns", b"gone"), kv.get("other", b"b")) == (b"1", None, b"2")
        kv.apply([("ns", b"new", b"n")], [("ns", b"absent", None)])  # expected absent, and it is
        assert kv.get("ns", b"new") == b"n"
        kv.set("ns", b"seen", b"v2")  # another command, after this one read v1
        with pytest.raises(KVConflictError, match="was changed by another command meanwhile"):
            kv.apply([("ns", b"a", b"lost"), ("ns", b"c", b"3")], [("ns", b"seen", b"v1")])
        with pytest.raises(KVConflictError):
            kv.apply([("ns", b"c", b"3")], [("ns", b"a", None)])  # expected absent, but it is there
        assert (kv.get("ns", b"a"), kv.get("ns", b"c")) == (b"1", None)  # nothing of either batch
    finally:
        kv.close()


def test_plugin_kv_on_both_backends(kv_url: str, make_host: Callable[..., Host]) -> None:
    """Through the probe plugin's kv_set/kv_get: a value over the limit is the call's error."""
    host = make_host(f"{PROBE}:host_function=kv")
    host.kv.close()
    host.kv = open_kv(kv_url, None)
    assert call_json(host, PROBE, "remember", {"key": "k", "value": "v1"}) == {"stored": True}
    assert call_json(host, PROBE, "recall", {"key": "k"}) == {"value": "v1"}
    with pytest.raises(PluginCallError) as exc:
        call_json(host, PROBE, "remember", {"key": "k", "value": "x" * (MAX_VALUE_BYTES + 1)})
    assert "value ≤ 1048576 bytes" in str(exc.value)
    # the previous value stands
    assert call_json(host, PROBE, "recall", {"key": "k"}) == {"value": "v1"}


def test_plugin_namespace_on_redis_is_its_verified_identity(redis_port: int, make_host: Callable[..., Host]) -> None:
    import redis

    host = make_host(f"{PROBE}:host_function=kv")
    host.kv.close()
    host.kv = open_kv(f"redis://127.0.0.1:{redis_port}/0", None)
    call_json(host, PROBE, "remember", {"key": "k", "value": "mine"})
    namespace = host.get(PROBE).kv_namespace
    assert namespace.startswith("key:") and namespace.endswith("/@examples/probe")
    client = redis.Redis(port=redis_port)
    assert client.keys("*") == [f"extism-kv:{namespace}".encode()]
    assert client.hget(f"extism-kv:{namespace}", "k") == b"mine"


# ---- two replicas behind a round-robin proxy ----------------------------------------------------


def _verify(root: Path) -> None:
    r = run_cli(
        "-m",
        "extism_platform.cli.plugin",
        "audit-log",
        "verify",
        str(root / "audit.jsonl"),
        "--key",
        str(root / "state" / "audit.key"),
        "--json",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True


def test_two_replicas_share_the_kv_store(built: dict, redis_port: int, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    # Replica A takes the store from extism.yaml (kv: and its grant), replica B from --kv.
    (a / "extism.yaml").write_text(f'kv: "{url}"\ngrants:\n  "{PROBE}": {{host_functions: [kv]}}\n')
    with (
        mcp_server(replica_args(built["dist"], a, "--config", str(a / "extism.yaml")), a / "stderr.log") as (port_a, _),
        mcp_server(
            replica_args(built["dist"], b, "--kv", url, "--grant", f"{PROBE}:host_function=kv"), b / "stderr.log"
        ) as (port_b, _),
        RoundRobinProxy([port_a, port_b]) as proxy,
    ):
        stored = modern_call(proxy.port, "examples_probe-remember", {"key": "city", "value": "Lisbon"})
        assert stored.status == 200 and not stored.body["result"].get("isError"), stored
        read = modern_call(proxy.port, "examples_probe-recall", {"key": "city"}, rid=2)
        assert read.status == 200, read
        assert json.loads(read.body["result"]["content"][0]["text"]) == {"value": "Lisbon"}
        assert proxy.picked == {port_a: 1, port_b: 1}
    calls = {
        root.name: [(r["export"], r["outcome"]) for r in read_records(root / "audit.jsonl") if r["kind"] == "call"]
        for root in (a, b)
    }
    assert calls == {"a": [("remember", "ok")], "b": [("recall", "ok")]}
    _verify(a)
    _verify(b)


# ---- the password -------------------------------------------------------------------------------


def test_redis_password_never_leaks(built: dict, tmp_path: Path) -> None:
    with redis_server(tmp_path, password=PASSWORD) as port:
        # a wrong password: one line naming the redacted URL
        bad = f"redis://:not-{PASSWORD}@127.0.0.1:{port}/0"
        r = run_cli(
            "-m",
            "extism_platform.cli.mcp_server",
            "--dist",
            str(built["dist"]),
            "--kv",
            bad,
            "--list",
            "--no-audit",
            cwd=tmp_path,
        )
        assert r.returncode == 1, r.stderr
        assert f"redis://***@127.0.0.1:{port}/0" in r.stderr and PASSWORD not in r.stderr + r.stdout
        assert "Traceback" not in r.stderr
        with pytest.raises(RunError) as exc:
            RedisKVStore(bad)
        assert PASSWORD not in str(exc.value)
        # the right one: serves; then Redis goes away mid-serving and the tool error says so, without it
        good = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
        log = tmp_path / "stderr.log"
        args = replica_args(built["dist"], tmp_path, "--kv", good, "--grant", f"{PROBE}:host_function=kv", "--verbose")
        with mcp_server(args, log) as (server_port, _):
            ok = modern_call(server_port, "examples_probe-remember", {"key": "k", "value": "v"})
            assert not ok.body["result"].get("isError"), ok
            redis_proc_stop = (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "-a", PASSWORD, "shutdown", "nosave"], capture_output=True
                )
                if shutil.which("redis-cli")
                else None
            )
            if redis_proc_stop is None:
                pytest.skip("redis-cli is not installed (it comes with Debian's redis-server)")
            failed = modern_call(server_port, "examples_probe-recall", {"key": "k"}, rid=2)
            result = failed.body["result"]
            assert result["isError"] is True
            text = result["content"][0]["text"]
            assert "kv store redis://***@127.0.0.1" in text, text
        leaked = [str(p) for p in tmp_path.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
        assert leaked == [] and PASSWORD not in text
