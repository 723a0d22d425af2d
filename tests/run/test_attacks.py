"""Issue 15's run-side attacks, one test each, named for the attack. Each docstring gives the
figure the test measured on the code before the fix and after it."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest

from extism_platform.audit import AuditLog, read_records, verify_log
from extism_platform.grants import grants_from_options
from extism_platform.host import http as host_http
from extism_platform.host import runtime
from extism_platform.host.kv import KVStore
from extism_platform.host.runtime import DEFAULT_MAX_OUTPUT_BYTES, Artifact, Host, PluginInfo
from extism_platform.host.sources import from_dist
from extism_platform.mcp import tools as tools_module
from extism_platform.mcp.server import ExtismMCPServer
from extism_platform.mcp.tools import build_tools
from plugin_format.artifact import canonical_json, sha256_hex
from plugin_format.errors import LoadError, ManifestError, PluginCallError, PublishError, RunError
from plugin_format.private_keys import private_key_kind
from plugin_format.signing import statement, unsigned_envelope
from tests.conftest import ROOT, run_cli
from tests.run.conftest import PROBE, call_json, resign
from tests.run.mcp_http import mcp_server

PROBE_STEM = "examples-probe-0.1.0"
SERVER = ["-m", "extism_platform.cli.mcp_server"]


# ---- helpers ------------------------------------------------------------------------------------


@contextmanager
def _loopback(handler: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering every GET with `handler(request)`; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            try:
                handler(self)
            except OSError:
                pass  # the client hung up (the host's deadline): expected here

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default backlog (5) drops connects under 8 concurrent calls

    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _reply(req: BaseHTTPRequestHandler, body: bytes, *, length: int | None = None) -> None:
    req.send_response(200)
    req.send_header("Content-Length", str(len(body) if length is None else length))
    req.end_headers()
    req.wfile.write(body)


def _mutated(built: dict[str, Path], tmp_path: Path, name: str, mutate: Callable[[dict], None], **kw: Any) -> Path:
    return resign(built, PROBE_STEM, tmp_path / name, mutate, **kw)


@contextmanager
def _http_server(args: list[str], log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """extism-mcp-server --http on 127.0.0.1 (no token: loopback); yields (URL, process)."""
    with mcp_server(args, log) as (port, proc):
        yield f"http://127.0.0.1:{port}/mcp", proc


async def _calls(url: str, calls: list[tuple[str, dict[str, Any]]]) -> list[types.CallToolResult]:
    """All `calls` at once over one streamable-HTTP session."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    results: list[Any] = [None] * len(calls)
    async with httpx2.AsyncClient(timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:

            async def one(i: int, name: str, args: dict[str, Any]) -> None:
                results[i] = await client.call_tool(name, args)

            async with anyio.create_task_group() as tg:
                for i, (name, args) in enumerate(calls):
                    tg.start_soon(one, i, name, args)
    return results


def _text(result: types.CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


def _start_loop_wasm() -> bytes:
    import wasmtime

    return bytes(
        wasmtime.wat2wasm(
            '(module (func $loop (loop $l (br $l))) (start $loop) (memory (export "memory") 1)'
            ' (func (export "echo") (result i32) i32.const 0))'
        )
    )


# ---- High ---------------------------------------------------------------------------------------


def test_attack_start_function_loops_forever(make_host: Callable[..., Host], built: dict, tmp_path: Path) -> None:
    """Item 1. Before: the first call never returned (thread still inside instantiation after 5 s,
    at 100% CPU). After: a tool error after the plugin's timeout_ms (1.0 s), the plugin then marked
    unavailable, the other plugin unaffected."""
    dist = _mutated(built, tmp_path, "loop", lambda d: d.update(name="@attack/start-loop"), wasm=_start_loop_wasm())
    host = make_host()
    host.add_all(from_dist(dist))
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            host.call("@attack/start-loop", "echo", b'{"text":"x"}')
        except PluginCallError as exc:
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "instantiation ran the start function with no bound"
    assert time.monotonic() - started < 2
    assert outcome["error"].kind == "unavailable" and "start function did not return" in str(outcome["error"])
    assert call_json(host, PROBE, "echo", {"text": "still"}) == {"text": "still"}


def test_attack_start_function_loop_server_stops_on_sigterm(built: dict, tmp_path: Path) -> None:
    """Item 1 over MCP. Before: 10 calls of the looping plugin took every worker thread, the next
    call of another plugin hung, SIGTERM was ignored. After: 10 tool errors, the other plugin
    answers, SIGTERM stops the server in well under a second (measured ~0.1–0.3 s)."""
    dist = _mutated(built, tmp_path, "loop", lambda d: d.update(name="@attack/start-loop"), wasm=_start_loop_wasm())
    args = ["--dist", str(built["dist"]), "--dist", str(dist), "--audit-log", str(tmp_path / "audit.jsonl")]
    args += ["--state-dir", str(tmp_path / "state")]
    with _http_server(args, tmp_path / "stderr.log") as (url, proc):

        async def main() -> list[types.CallToolResult]:
            with anyio.fail_after(20):
                loops = [("attack_start-loop-echo", {"text": "x"})] * 10
                return await _calls(url, [*loops, ("examples_probe-echo", {"text": "after"})])

        results = anyio.run(main)
        assert all(r.is_error and "start function did not return" in _text(r) for r in results[:10])
        assert results[10].structured_content == {"text": "after"}
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        assert time.monotonic() - started < 1.0


def test_attack_huge_result(make_host: Callable[..., Host]) -> None:
    """Item 2. Before: no cap at all: three concurrent 1.5 MiB results were all copied and returned
    (0 of 3 refused; 64 MiB ones went out as 400 MB of JSON). After: 3 of 3 refused past the cap,
    checked before the copy (peak traced allocation < 0.5 MiB); a grant raises one plugin's cap."""
    assert 1 << 20 <= DEFAULT_MAX_OUTPUT_BYTES <= 8 << 20
    host = make_host()
    host.max_output_bytes = 1 << 19
    errors: list[Any] = []

    def call() -> None:
        try:
            host.call(PROBE, "big", json.dumps({"size": 3 << 19}).encode())
        except PluginCallError as exc:
            errors.append(exc)

    tracemalloc.start()
    try:
        threads = [threading.Thread(target=call) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(errors) == 3 and all(e.kind == "too_large" for e in errors), errors
    assert "max_output_kib" in str(errors[0]) and PROBE in str(errors[0])
    assert peak < 1 << 19, f"peak traced allocation {peak / (1 << 20):.1f} MiB"
    calls = [r for r in read_records(host.audit.path) if r["kind"] == "call"]
    assert [c["outcome"] for c in calls] == ["too_large"] * 3
    roomy = make_host(f"{PROBE}:max_output_kib=2048")
    roomy.max_output_bytes = 1 << 19
    assert len(roomy.call(PROBE, "big", json.dumps({"size": 3 << 19}).encode()).output) > 3 << 19


def test_attack_readme_path_escapes_the_project(tmp_path: Path) -> None:
    """Item 3, paths. Before: `readme: ../elsewhere/targets.pem`, an absolute `source` and a readme
    symlinked out of the project all loaded. After: each is a ManifestError naming the field."""
    from plugin_format.manifest import load_manifest

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "targets.pem").write_text("secret")
    project = tmp_path / "project"
    project.mkdir()
    base = (ROOT / "examples" / "probe" / "plugin.yaml").read_text()
    (project / "link.md").symlink_to(outside / "targets.pem")
    for extra, field in (
        ("readme: ../elsewhere/targets.pem", "readme"),
        (f"readme: {outside / 'targets.pem'}", "readme"),
        ("readme: link.md", "readme"),
        ("source: /etc", "source"),
        ("source: src/../../elsewhere", "source"),
    ):
        (project / "plugin.yaml").write_text(base.replace("source: src", "") + f"\n{extra}\n")
        with pytest.raises(ManifestError, match=field):
            load_manifest(project)
    (project / "plugin.yaml").write_text(base.replace("source: src", "") + "\nreadme: README.md\n")
    assert load_manifest(project).readme == "README.md"


def test_attack_publish_a_private_key_as_readme(built: dict, tmp_path: Path) -> None:
    """Item 3, secrets. Before: a PEM private key given as the README was published (and shown on
    the site). After: publish refuses it, naming the kind of key; every common key format is
    recognised and a README is not."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from registry_static.repository import Repository

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ssh = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    tuf = json.dumps({"keytype": "ed25519", "keyval": {"public": "ab", "private": "cd"}}).encode()
    for data in (pem, der, ssh, tuf, b"# notes\n\n" + pem):
        assert private_key_kind(data), data[:40]
    readme = (ROOT / "README.md").read_bytes()
    assert private_key_kind(readme) is None and private_key_kind(b"-----BEGIN PUBLIC KEY-----") is None
    repo = Repository.init(tmp_path / "registry", tmp_path / "registry-keys", name="attack")
    repo.add_scope("@examples", [(Path(str(built["key"]) + ".pub").read_text(encoding="utf-8"), "author")])
    secret = tmp_path / "targets.pem"
    secret.write_bytes(pem)
    with pytest.raises(PublishError, match="PRIVATE KEY; refusing to publish"):
        repo.publish([built["dist"] / f"{PROBE_STEM}.wasm"], readme=secret)


def test_attack_one_denial_cancels_other_calls(built: dict, tmp_path: Path) -> None:
    """Item 4. 200 concurrent tools/call over HTTP, 20 of them denied. Before: 74 of the 180
    innocent calls correct here (the rest "timed out": a denial's cancel bumps the epoch of the
    wasmtime engine all of a plugin's instances shared). After: 180 of 180, and exactly one audit
    record per call with its true outcome (180 ok, 20 denied)."""

    def slow(req: BaseHTTPRequestHandler) -> None:
        time.sleep(0.02)  # keep innocent calls in flight while denials happen
        _reply(req, req.path.encode())

    audit = tmp_path / "audit.jsonl"
    args = ["--dist", str(built["dist"]), "--grant", f"{PROBE}:host=127.0.0.1:*", "--audit-log", str(audit)]
    args += ["--state-dir", str(tmp_path / "state")]
    with _loopback(slow) as base, _http_server(args, tmp_path / "stderr.log") as (url, _):
        calls = [
            ("examples_probe-fetch", {"url": "https://evil.example/x"} if i % 10 == 5 else {"url": f"{base}/n{i}"})
            for i in range(200)
        ]

        async def main() -> list[types.CallToolResult]:
            with anyio.fail_after(60):
                return await _calls(url, calls)

        results = anyio.run(main)
    innocent = [(i, r) for i, r in enumerate(results) if i % 10 != 5]
    correct = [i for i, r in innocent if not r.is_error and json.loads(_text(r)) == {"status": 200, "body": f"/n{i}"}]
    wrong = [_text(r)[:160] for i, r in innocent if i not in correct]
    assert len(correct) == 180, f"{len(correct)} of 180 innocent calls correct; wrong: {wrong[:3]}"
    assert all(r.is_error and "evil.example" in _text(r) for i, r in enumerate(results) if i % 10 == 5)
    records = [r for r in read_records(audit) if r["kind"] == "call"]
    assert len(records) == 200
    assert sorted(r["outcome"] for r in records) == ["denied"] * 20 + ["ok"] * 180


# ---- Medium -------------------------------------------------------------------------------------


def test_attack_http_response_dribbled(make_host: Callable[..., Host]) -> None:
    """Item 6. A granted host sends its body a byte every 50 ms for 3 s; the call's timeout_ms is
    500. Before: the call took 3.0 s (each read had its own timeout). After: an error at ~0.5 s."""

    def dribble(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "60")
        req.end_headers()
        for _ in range(60):
            req.wfile.write(b"x")
            req.wfile.flush()
            time.sleep(0.05)

    host = make_host(f"{PROBE}:host=127.0.0.1:*", f"{PROBE}:timeout_ms=500")
    with _loopback(dribble) as base:
        started = time.monotonic()
        with pytest.raises(PluginCallError, match="no complete response within"):
            host.call(PROBE, "fetch", json.dumps({"url": f"{base}/slow"}).encode())
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def test_attack_catastrophic_pattern(make_host: Callable[..., Host], built: dict, tmp_path: Path) -> None:
    """Item 7. input_schema pattern `^(a+)+$` against 26 a's and a '!'. Before: 5.6 s of
    backtracking on the event loop for one call (doubling per character). After: RE2, ~0.05 ms;
    a pattern RE2 cannot run (a backreference) is not offered as a tool."""

    def hostile(doc: dict) -> None:
        for e in doc["exports"]:
            if e["name"] == "echo":
                e["input_schema"]["properties"]["text"]["pattern"] = "^(a+)+$"
            if e["name"] == "fetch":
                e["input_schema"]["properties"]["url"]["pattern"] = "(a)\\1"

    host = make_host(dist=_mutated(built, tmp_path, "regex", hostile))
    tools = ExtismMCPServer(host).tools
    assert "examples_probe-fetch" not in tools and "examples_probe-note" in tools
    started = time.perf_counter()
    errors = list(tools["examples_probe-echo"].input_validator.iter_errors({"text": "a" * 26 + "!"}))
    elapsed = time.perf_counter() - started
    assert errors and "does not match" in errors[0].message
    assert elapsed < 0.05, f"{elapsed:.3f} s"
    assert not list(tools["examples_probe-echo"].input_validator.iter_errors({"text": "aaa"}))


def test_attack_error_message_not_utf8(make_host: Callable[..., Host]) -> None:
    """Item 8. Before: a raw UnicodeDecodeError (over MCP a JSON-RPC error, code 0) and no call
    record. After: a tool error naming the plugin, and one call record (outcome error)."""
    host = make_host()
    with pytest.raises(PluginCallError, match="not UTF-8") as info:
        host.call(PROBE, "bad_error", b"{}")
    assert PROBE in str(info.value)
    server = ExtismMCPServer(host)
    result = anyio.run(server._call_tool, None, types.CallToolRequestParams(name="examples_probe-bad_error"))
    assert result.is_error and "not UTF-8" in _text(result)
    calls = [r for r in read_records(host.audit.path) if r["kind"] == "call"]
    assert [(c["export"], c["outcome"]) for c in calls] == [("bad_error", "error")] * 2
    # and the instance still works (a guest error return leaves it usable)
    assert call_json(host, PROBE, "echo", {"text": "ok"}) == {"text": "ok"}


def _rechain(path: Path, edit: Callable[[list[dict]], None]) -> None:
    """What an attacker who can write the log (not the key) does: edit, re-chain, rewrite the head."""
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    edit(records)
    prev, out = "0" * 64, b""
    for seq, rec in enumerate(records, 1):
        rec["seq"], rec["prev"] = seq, prev
        line = json.dumps(rec, separators=(",", ":")).encode()
        prev = sha256_hex(line)
        out += line + b"\n"
    path.write_bytes(out)
    head = path.with_name(path.name + ".head")
    head.write_text(json.dumps({"seq": len(records), "hash": prev}))


def test_attack_audit_log_tampering(tmp_path: Path) -> None:
    """Item 9. Before: an edited-and-re-chained log, a cut tail with .head deleted, an empty log
    with head seq 0 and a head with `seq: true` all verified as intact (4 of 4 missed), and a torn
    last line made the log refuse every append. After: 4 of 4 detected under the key; a torn line
    is cut off on start (kept in .torn, recorded as a repair) and the log verifies."""
    key = b"k" * 32

    def fresh(name: str, n: int = 5) -> Path:
        path = tmp_path / name
        log = AuditLog(path, key=key)
        for i in range(n):
            log.append("call", plugin="p", export="e", outcome="ok", i=i)
        log.close()
        assert verify_log(path, key).ok
        return path

    edited = fresh("edited.jsonl")
    _rechain(edited, lambda recs: recs[2].update(outcome="denied"))
    cut = fresh("cut.jsonl")
    cut.write_bytes(b"".join(cut.read_bytes().splitlines(keepends=True)[:3]))
    cut.with_name(cut.name + ".head").unlink()
    empty = fresh("empty.jsonl")
    empty.write_bytes(b"")
    empty.with_name(empty.name + ".head").write_text('{"seq": 0, "hash": "' + "0" * 64 + '"}')
    boolean = fresh("bool.jsonl")
    head = boolean.with_name(boolean.name + ".head")
    head.write_text(json.dumps({**json.loads(head.read_text()), "seq": True}))
    missed = [p.name for p in (edited, cut, empty, boolean) if verify_log(p, key).ok]
    assert missed == [], f"tampering not detected in {missed}"

    torn = fresh("torn.jsonl", 3)
    with open(torn, "ab") as f:
        f.write(b'{"seq":4,"time":"2026-')  # a crash mid-write
    log = AuditLog(torn, key=key)
    log.append("call", plugin="p", export="e", outcome="ok")
    log.close()
    report = verify_log(torn, key)
    assert report.ok, report.problems
    assert [r["kind"] for r in read_records(torn)][-2:] == ["repair", "call"]
    assert torn.with_name(torn.name + ".torn").read_bytes().startswith(b'{"seq":4')


def test_attack_http_on_all_interfaces_without_token(built: dict, tmp_path: Path) -> None:
    """Item 11. Before: `--http 0.0.0.0:PORT` with no token served anyone, and a browser page's
    Origin was not checked there. After: refused (exit 1, one line) unless --insecure-no-auth; on
    a non-loopback address a request with a foreign Origin gets 403."""
    r = run_cli(*SERVER, "--dist", str(built["dist"]), "--http", "0.0.0.0:1", "--no-audit", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "refusing to serve a non-loopback address without a bearer token" in r.stderr

    host = Host()
    app = ExtismMCPServer(host, transport="http").http_app("0.0.0.0")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": [
            (b"host", b"203.0.113.5:8765"),
            (b"origin", b"http://evil.example"),
            (b"content-type", b"application/json"),
        ],
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 403 and b"forbidden_origin" in sent[1]["body"]


def test_attack_plugin_json_name_takes_over_a_tool(
    built: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 12. Before: a plugin.json named `examples_probe` loaded and silently made the same tool
    names as `@examples/probe`. After: the name is refused at load; two plugins making one tool name
    (possible only past the loader) are refused, naming both."""
    impostor = _mutated(built, tmp_path, "impostor", lambda d: d.update(name="examples_probe"))
    with pytest.raises(LoadError, match="is not a plugin name"):
        from_dist(impostor)
    bad_export = _mutated(built, tmp_path, "export", lambda d: d["exports"][0].update(name="echo\n"))
    with pytest.raises(LoadError, match="is not an export name"):
        from_dist(bad_export)

    # Valid names cannot collide (see tool_name); should the naming ever change, a collision is
    # refused, not resolved by whichever plugin comes last.
    host = Host()
    probe = next(a for a in from_dist(built["dist"]) if a.info.name == PROBE)
    host.add(probe)
    doc = {**probe.info.doc, "name": "@other/probe"}
    host.add(Artifact(PluginInfo.from_plugin_json(doc), probe.sha256, probe.read_wasm, "hand-made"))
    monkeypatch.setattr(tools_module, "tool_name", lambda plugin, export: f"t-{export}")
    with pytest.raises(RunError, match=r"plugins @examples/probe .* and @other/probe .* both make the tool t-echo"):
        build_tools(host)


def test_attack_garbage_signature(built: dict, tmp_path: Path) -> None:
    """Item 13. Before: a .sig whose signature is 64 zero bytes loaded without --allow-unsigned,
    listed as signed, and `extism-plugin verify` exited 0. After: a load error and exit 1; a
    signature by a key this machine does not know is not called signed either."""
    dist = tmp_path / "garbage"
    dist.mkdir()
    for suffix in (".wasm", ".plugin.json", ".sig"):
        (dist / f"{PROBE_STEM}{suffix}").write_bytes((built["dist"] / f"{PROBE_STEM}{suffix}").read_bytes())
    envelope = json.loads((dist / f"{PROBE_STEM}.sig").read_text())
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode()
    (dist / f"{PROBE_STEM}.sig").write_text(json.dumps(envelope))
    with pytest.raises(LoadError, match="does not verify"):
        from_dist(dist)
    r = run_cli("-m", "extism_platform.cli.plugin", "verify", str(dist / f"{PROBE_STEM}.wasm"), cwd=tmp_path)
    assert r.returncode == 1 and "does not verify" in r.stderr

    stranger = tmp_path / "stranger"
    from plugin_format.signing import generate_keypair

    generate_keypair(tmp_path / "stranger.pem")
    resign({**built, "key": tmp_path / "stranger.pem"}, PROBE_STEM, stranger, lambda d: None)
    with pytest.raises(LoadError, match="not a key this machine trusts"):
        from_dist(stranger)
    (art,) = [a for a in from_dist(stranger, allow_unsigned=True) if a.info.name == PROBE]
    assert not art.signed


def test_attack_unsigned_build_reads_anothers_kv(built: dict, tmp_path: Path) -> None:
    """Item 14. Before: an unsigned build named @examples/probe read the signed probe's kv value,
    and kv.sqlite3 was 0644. After: it reads nothing (kv is keyed by signer + name); 0600."""
    kv = KVStore(tmp_path / "state" / "kv.sqlite3")
    grants = grants_from_options([f"{PROBE}:host_function=kv"])
    signed = Host(grants=grants, kv=kv)
    signed.add_all(from_dist(built["dist"]))
    call_json(signed, PROBE, "remember", {"key": "token", "value": "s3cret"})
    assert call_json(signed, PROBE, "recall", {"key": "token"}) == {"value": "s3cret"}

    fake = tmp_path / "unsigned"
    fake.mkdir()
    wasm = (built["dist"] / f"{PROBE_STEM}.wasm").read_bytes()
    pj = (built["dist"] / f"{PROBE_STEM}.plugin.json").read_bytes()
    (fake / f"{PROBE_STEM}.wasm").write_bytes(wasm)
    (fake / f"{PROBE_STEM}.plugin.json").write_bytes(pj)
    stmt = statement(PROBE, "0.1.0", sha256_hex(wasm), sha256_hex(pj))
    (fake / f"{PROBE_STEM}.sig").write_bytes(canonical_json(unsigned_envelope(stmt)))
    claimant = Host(grants=grants, kv=kv)
    claimant.add_all(from_dist(fake, allow_unsigned=True))
    with pytest.raises(PluginCallError, match="nothing stored"):
        claimant.call(PROBE, "recall", json.dumps({"key": "token"}).encode())
    for f in (tmp_path / "state").iterdir():
        assert f.stat().st_mode & 0o777 == 0o600, f"{f.name} is {oct(f.stat().st_mode & 0o777)}"
    kv.close()


def test_attack_plugin_sets_host_header(make_host: Callable[..., Host]) -> None:
    """Item 15. Before: the server saw `Host: internal-admin.corp`. After: the granted host's."""
    host = make_host(f"{PROBE}:host=127.0.0.1:*")
    with _loopback(lambda req: _reply(req, str(req.headers.get("Host")).encode())) as base:
        out = call_json(host, PROBE, "fetch", {"url": f"{base}/", "host": "internal-admin.corp"})
    assert out == {"status": 200, "body": base.removeprefix("http://")}


# ---- Low ----------------------------------------------------------------------------------------


def test_attack_pooled_instance_leaks_vars(make_host: Callable[..., Host]) -> None:
    """Item 19. Before: a var one call set was read by the next call on the pooled instance
    (another client's). After: every call gets a fresh instance (memory, globals and vars), on a
    pooled compiled module (measured: +0.06 ms a call)."""
    host = make_host()
    assert call_json(host, PROBE, "setvar", {"key": "session", "value": "client-a-secret"}) == {"stored": True}
    plugin = host.plugins[PROBE]
    assert runtime.settle()  # the recycler replaced the used instance by a fresh one
    assert plugin.pooled == 1  # the next call runs on that same compiled module, on a new instance
    assert call_json(host, PROBE, "getvar", {"key": "session"}) == {"value": ""}


def test_attack_grant_without_port_reaches_every_port(
    make_host: Callable[..., Host], built: dict, tmp_path: Path
) -> None:
    """Item 20, ports. Before: `hosts: [127.0.0.1]` granted `127.0.0.1` reached any port. After: only
    the scheme's default port; other ports need `host:PORT` (or `host:*`)."""
    dist = _mutated(built, tmp_path, "noport", lambda d: d["permissions"].update(hosts=["127.0.0.1"]))
    host = make_host(f"{PROBE}:host=127.0.0.1", dist=dist)
    asks_any_port = make_host(f"{PROBE}:host=127.0.0.1")  # the probe asks for 127.0.0.1:*; not granted
    with _loopback(lambda req: _reply(req, b"reached")) as base:
        for h in (host, asks_any_port):
            with pytest.raises(PluginCallError, match="HTTP access to 127.0.0.1:"):
                h.call(PROBE, "fetch", json.dumps({"url": f"{base}/"}).encode())


def test_attack_truncated_response_body(make_host: Callable[..., Host]) -> None:
    """Item 20, bodies. Before: a body cut short of its Content-Length (10 of 1000 bytes) came back
    as a 200 with 10 bytes, and a body over 16 MiB was cut at 16 MiB and returned. After: both
    are errors."""
    host = make_host(f"{PROBE}:host=127.0.0.1:*")
    with _loopback(lambda req: _reply(req, b"0123456789", length=1000)) as base:
        with pytest.raises(PluginCallError, match="IncompleteRead|shorter"):
            host.call(PROBE, "fetch", json.dumps({"url": f"{base}/"}).encode())
    huge = b"x" * (host_http.MAX_RESPONSE_BYTES + 1)
    with _loopback(lambda req: _reply(req, huge)) as base:
        with pytest.raises(OSError, match="over 16 MiB"):
            host_http.perform("GET", f"{base}/", {}, b"", host_http.HttpSettings(), 10)


def test_attack_output_schema_violation_audited_ok(make_host: Callable[..., Host]) -> None:
    """Item 21. Before: output that violates output_schema was an isError for the client but
    `ok` in the audit log. After: outcome `invalid_output` in both."""
    host = make_host()
    server = ExtismMCPServer(host)
    result = anyio.run(server._call_tool, None, types.CallToolRequestParams(name="examples_probe-wrong_shape"))
    assert result.is_error and "does not match its output_schema" in _text(result)
    (call,) = [r for r in read_records(host.audit.path) if r["kind"] == "call"]
    assert call["outcome"] == "invalid_output" and "output_schema" in call["error"]
