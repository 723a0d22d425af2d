"""The host with real plugins: grants enforced, denials readable and audited, pools, traps, timeouts,
signatures. Every case builds nothing new (the session fixture built the examples once)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from extism_platform.audit import read_records, verify_log
from extism_platform.demo import WeatherAPI
from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_dist
from plugin_format.errors import LoadError, PluginCallError
from tests.run.conftest import PROBE, WEATHER, call_json, resign

PROBE_STEM = "examples-probe-0.1.0"


def _denied(host: Host, export: str, args: dict) -> str:
    with pytest.raises(PluginCallError) as exc:
        host.call(PROBE, export, json.dumps(args).encode())
    assert exc.value.kind == "denied", exc.value
    assert "\n" not in str(exc.value)
    return str(exc.value)


def _capability_records(host: Host) -> list[dict]:
    return [r for r in read_records(host.audit.path) if r["kind"] == "capability"]


def test_weather_plugin_end_to_end(make_host: Callable[..., Host], weather_api: WeatherAPI) -> None:
    host = make_host(
        f"{WEATHER}:host=api.weather.example",
        f"{WEATHER}:config.api_key={weather_api.api_key}",
        f"{WEATHER}:host_function=log",
        resolve={"api.weather.example": weather_api.url},
    )
    out = call_json(host, WEATHER, "get_weather", {"city": "Paris"})
    assert out == {"city": "Paris", "temp_c": 21.5, "conditions": "sunny", "humidity_pct": 40, "wind_kph": 12}
    assert weather_api.requests[-1]["host"] == "api.weather.example"  # resolved, Host header kept
    with pytest.raises(PluginCallError, match="unknown city 'Atlantis'") as exc:
        call_json(host, WEATHER, "get_weather", {"city": "Atlantis"})
    assert exc.value.kind == "error"
    kinds = [r["kind"] for r in read_records(host.audit.path)]
    assert "log" in kinds and kinds.count("call") == 2


def test_undeclared_host_is_refused(make_host: Callable[..., Host]) -> None:
    host = make_host(f"{PROBE}:requested")
    msg = _denied(host, "fetch", {"url": "https://evil.example/steal"})
    assert msg.startswith(f"plugin {PROBE} is not allowed HTTP access to evil.example")
    assert "does not declare evil.example in plugin.yaml permissions.hosts" in msg
    rec = _capability_records(host)[-1]
    assert (rec["capability"], rec["value"], rec["decision"]) == ("host", "evil.example", "denied")


def test_requested_but_ungranted_host_names_the_grant(make_host: Callable[..., Host]) -> None:
    host = make_host()
    msg = _denied(host, "fetch", {"url": "https://api.weather.example/x"})
    assert "--grant '@examples/probe:host=api.weather.example'" in msg
    assert 'grants: {"@examples/probe": {hosts: [api.weather.example]}}' in msg


def test_granted_host_reaches_the_loopback_server(make_host: Callable[..., Host], weather_api: WeatherAPI) -> None:
    host = make_host(f"{PROBE}:host=127.0.0.1:*")
    out = call_json(host, PROBE, "fetch", {"url": f"{weather_api.url}/v1/current?city=tokyo"})
    assert out["status"] == 401  # no api key: the plugin sees the API's own answer
    rec = _capability_records(host)[-1]
    assert rec["decision"] == "allowed" and rec["method"] == "GET"


def test_config_missing_value_and_undeclared_key(make_host: Callable[..., Host]) -> None:
    host = make_host(f"{PROBE}:config.greeting=hi", f"{PROBE}:config.undeclared=x")
    assert call_json(host, PROBE, "config", {"key": "greeting"}) == {"value": "hi"}
    # Not granted reads as not set (Extism's semantics): the plugin's own error, then the grant to add.
    for key, hint in (
        ("secret", "--grant '@examples/probe:config.secret=VALUE'"),
        ("undeclared", "does not declare undeclared in plugin.yaml permissions.config"),
    ):
        with pytest.raises(PluginCallError) as exc:
            host.call(PROBE, "config", json.dumps({"key": key}).encode())
        assert exc.value.kind == "error" and "config: no such key" in str(exc.value), exc.value
        assert f"config {key!r} was not set" in str(exc.value) and hint in str(exc.value)
    decisions = [(r["value"], r["decision"]) for r in _capability_records(host)]
    assert decisions == [("greeting", "allowed"), ("secret", "denied"), ("undeclared", "denied")]


def test_host_functions_need_a_grant(make_host: Callable[..., Host]) -> None:
    host = make_host(f"{PROBE}:host_function=kv")
    assert call_json(host, PROBE, "remember", {"key": "k", "value": "v1"}) == {"stored": True}
    assert call_json(host, PROBE, "recall", {"key": "k"}) == {"value": "v1"}
    msg = _denied(host, "note", {"message": "hi"})
    assert "host function log_event (group log)" in msg and "host_function=log" in msg


def test_undeclared_host_function_is_refused(make_host: Callable[..., Host], built: dict, tmp_path: Path) -> None:
    # A hand-made artifact (signed, but never through the build check) that imports kv without declaring it.
    def drop_kv(doc: dict) -> None:
        doc["permissions"]["host_functions"] = ["log", "context"]

    dist = resign(built, PROBE_STEM, tmp_path / "sneaky", drop_kv)
    host = make_host(f"{PROBE}:requested", dist=dist)
    msg = _denied(host, "recall", {"key": "k"})
    assert (
        "host function kv_get (group kv)" in msg
        and "does not declare kv in plugin.yaml permissions.host_functions" in msg
    )
    assert any(r["value"] == "kv_get" and r["decision"] == "denied" for r in _capability_records(host))


def test_every_denial_is_in_a_verifiable_audit_log(make_host: Callable[..., Host]) -> None:
    host = make_host()
    for export, args in [
        ("fetch", {"url": "https://x.example/"}),
        ("note", {"message": "m"}),
    ]:
        _denied(host, export, args)
    with pytest.raises(PluginCallError):  # an ungranted config key reads as not set: the plugin's own error
        host.call(PROBE, "config", json.dumps({"key": "secret"}).encode())
    calls = [r for r in read_records(host.audit.path) if r["kind"] == "call"]
    assert [c["outcome"] for c in calls] == ["denied", "denied", "error"]
    reads = [r for r in read_records(host.audit.path) if r["kind"] == "capability" and r["capability"] == "config"]
    assert [(r["value"], r["decision"]) for r in reads] == [("secret", "denied")]
    for c in calls:
        assert {"time", "plugin", "version", "sha256", "export", "input_sha256", "input_size", "duration_ms"} <= set(c)
    grants = [r for r in read_records(host.audit.path) if r["kind"] == "grant" and r["decision"] == "denied"]
    assert {g["capability"] for g in grants} >= {"host", "config", "host_function"}
    assert verify_log(host.audit.path).ok


def test_context_carries_the_callers_metadata(make_host: Callable[..., Host]) -> None:
    host = make_host(f"{PROBE}:host_function=context")
    out = json.loads(host.call(PROBE, "whoami", b"{}", {"tool": "t", "request_id": 7, "client": {"name": "x"}}).output)
    assert out == {"tool": "t", "request_id": 7, "client": {"name": "x"}}


def test_error_trap_timeout_then_still_serving(make_host: Callable[..., Host]) -> None:
    host = make_host(f"{PROBE}:timeout_ms=200")
    with pytest.raises(PluginCallError, match="^as asked$"):
        host.call(PROBE, "fail", b'{"message":"as asked"}')
    with pytest.raises(PluginCallError, match="wasm trap") as exc:
        host.call(PROBE, "crash", b"{}")
    assert exc.value.kind == "trap"
    with pytest.raises(PluginCallError, match="timed out after 200 ms") as exc:
        host.call(PROBE, "spin", b"{}")
    assert exc.value.kind == "timeout"
    assert call_json(host, PROBE, "echo", {"text": "still here"}) == {"text": "still here"}


def test_concurrent_calls_never_share_an_instance(make_host: Callable[..., Host]) -> None:
    host = make_host()
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(100):
            text = f"t{n}-{i}"
            out = call_json(host, PROBE, "echo", {"text": text})
            if out != {"text": text}:
                errors.append(f"{text} -> {out}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []


def test_lazy_compile(make_host: Callable[..., Host]) -> None:
    host = make_host()
    assert not any(p.compiled for p in host.plugins.values())
    call_json(host, PROBE, "echo", {"text": "x"})
    assert host.plugins[PROBE].compiled and not host.plugins[WEATHER].compiled


def test_tampered_and_unsigned_artifacts_are_refused(built: dict, tmp_path: Path) -> None:
    dist = resign(built, PROBE_STEM, tmp_path / "t", lambda d: None)
    (dist / f"{PROBE_STEM}.wasm").write_bytes((dist / f"{PROBE_STEM}.wasm").read_bytes() + b"\0")
    with pytest.raises(LoadError, match="wasm: sha256 does not match the signed statement"):
        from_dist(dist)
    from plugin_format.signing import load_public_key

    other = tmp_path / "other.pem"
    from plugin_format.signing import generate_keypair

    generate_keypair(other)
    with pytest.raises(LoadError, match="no valid signature by the given key"):
        from_dist(built["dist"], keys=[load_public_key(Path(str(other) + ".pub"))])
    assert all(a.trusted for a in from_dist(built["dist"], keys=[load_public_key(built["pub"])]))


def test_wasm_swapped_after_verification_is_not_run(
    make_host: Callable[..., Host], built: dict, tmp_path: Path
) -> None:
    dist = resign(built, PROBE_STEM, tmp_path / "swap", lambda d: None)
    host = make_host(dist=dist)
    (dist / f"{PROBE_STEM}.wasm").write_bytes(b"\0asm\1\0\0\0")
    with pytest.raises(PluginCallError, match="changed since it was verified") as exc:
        host.call(PROBE, "echo", b'{"text":"x"}')
    assert exc.value.kind == "unavailable"


def test_unknown_host_import_gives_a_clear_error(make_host: Callable[..., Host], built: dict, tmp_path: Path) -> None:
    wasm = (built["dist"] / f"{PROBE_STEM}.wasm").read_bytes().replace(b"context_get", b"context_xyz")
    dist = resign(built, PROBE_STEM, tmp_path / "unknown", lambda d: None, wasm=wasm)
    host = make_host(dist=dist)
    with pytest.raises(PluginCallError, match=r"does not offer: extism:host/user::context_xyz"):
        host.call(PROBE, "echo", b'{"text":"x"}')
