"""HTTP response headers reach a plugin only when plugin.yaml asks for them and the user grants
them: real C, Rust and Go plugins (the C PDK's `extism_http_response_header`, the Rust PDK's
`http::response_headers`, the Go PDK's `HTTPResponse.Headers`) fetch from a real HTTP server on
127.0.0.1 that sets `X-Test`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from extism_platform.audit import AuditLog
from extism_platform.grants import grants_from_options
from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_project
from hatch_extism.build import build_artifacts
from hatch_extism.toolchains import get_toolchain
from plugin_format.errors import ExtismPlatformError
from plugin_format.manifest import load_manifest
from tests.conftest import run_cli

PLUGIN = "headers-probe"

C_SOURCE = r"""
#include "extism-pdk.h"

/* input: a URL (text) -> {"status": N, "x_test": "…" | null} */
EXTISM_EXPORT("fetch") int32_t fetch(void) {
    uint64_t n;
    uint8_t *url = extism_input(&n);
    ExtismHttpResponse r = extism_http_request_send("GET", (const char *)url, NULL, 0, NULL, 0);
    size_t len = 0;
    char *value = extism_http_response_header("x-test", &len);
    ExtismBuffer out = {0};
    extism_buffer_append_str(&out, "{\"status\":");
    extism_buffer_append_int(&out, r.status);
    extism_buffer_append_str(&out, ",\"x_test\":");
    if (value) extism_buffer_append_json_string(&out, value); else extism_buffer_append_str(&out, "null");
    extism_buffer_append_str(&out, "}");
    extism_output(out.data, out.len);
    return 0;
}
"""

RUST_SOURCE = r"""
use extism_pdk::{http, json};

#[no_mangle]
pub extern "C" fn fetch() -> i32 {
    let url = extism_pdk::input_string().unwrap_or_default();
    let response = http::get(&url);
    let value = http::response_headers()
        .and_then(|h| h.get("x-test").and_then(|v| v.as_str().map(String::from)));
    let x_test = value.map_or(String::from("null"), |v| json::quote(&v));
    extism_pdk::output(format!("{{\"status\":{},\"x_test\":{}}}", response.status(), x_test));
    0
}
"""

GO_SOURCE = """package main

import (
	"encoding/json"

	pdk "extism-platform.dev/pdk"
)

//go:wasmexport fetch
func fetch() int32 {
	res, err := pdk.NewHTTPRequest("GET", pdk.InputString()).Send()
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	out := map[string]any{"status": res.Status, "x_test": nil}
	if v, ok := res.Headers["x-test"]; ok {
		out["x_test"] = v
	}
	data, _ := json.Marshal(out)
	pdk.Output(data)
	return 0
}

func main() {}
"""

GO_MOD = "module headersprobe\n\ngo 1.24\n\nrequire extism-platform.dev/pdk v0.0.0\n"

SOURCES = {
    "c": {"src/plugin.c": C_SOURCE},
    "rust": {"src/lib.rs": RUST_SOURCE},
    "go": {"main.go": GO_SOURCE, "go.mod": GO_MOD},
}


def _manifest(language: str, declared: bool) -> str:
    perms = "  hosts: ['127.0.0.1:*']\n" + ("  http_response_headers: true\n" if declared else "")
    source = {"c": "source: src\n", "go": "wasi: true\n"}.get(language, "")
    return (
        f"name: {PLUGIN}\nversion: 0.1.0\nlanguage: {language}\n{source}"
        f"exports:\n  - name: fetch\n    input: text\npermissions:\n{perms}"
    )


@pytest.fixture(scope="session")
def header_plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    """(language, declares http_response_headers) → project dir, built once (unsigned)."""
    out: dict[tuple[str, bool], Path] = {}
    for language, files in SOURCES.items():
        if not get_toolchain(language).detect().found:
            try:
                get_toolchain(language).ensure_installed()
            except ExtismPlatformError as exc:
                pytest.skip(f"{language} toolchain unavailable: {exc}")
        for declared in (True, False):
            project = tmp_path_factory.mktemp(f"headers-{language}-{declared}")
            for rel, text in files.items():
                (project / rel).parent.mkdir(parents=True, exist_ok=True)
                (project / rel).write_text(text)
            (project / "plugin.yaml").write_text(_manifest(language, declared))
            build_artifacts(load_manifest(project), project / "dist", key=None)
            out[(language, declared)] = project
    return out


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"ok"
        self.send_response(200)
        self.send_header("X-Test", "seen-by-the-plugin")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _call(project: Path, url: str, grants: list[str], audit: Path) -> tuple[dict, list[dict]]:
    manifest = load_manifest(project)
    wasm = next((project / "dist").glob("*.wasm")).read_bytes()
    log = AuditLog(audit)
    host = Host(grants=grants_from_options(grants), audit=log)
    try:
        host.add(from_project(manifest, wasm, f"project:{project}"))
        out = json.loads(host.call(PLUGIN, "fetch", url.encode()).output)
    finally:
        host.close()
        log.close()
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    return out, [r for r in records if r.get("capability") == "http_response_headers" and r.get("export") == "fetch"]


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_headers_reach_a_plugin_that_declares_them_when_granted(
    header_plugins: dict, server: str, tmp_path: Path, language: str
) -> None:
    grants = [f"{PLUGIN}:host=127.0.0.1:*", f"{PLUGIN}:http_response_headers=true"]
    out, audited = _call(header_plugins[(language, True)], server, grants, tmp_path / "audit.jsonl")
    assert out == {"status": 200, "x_test": "seen-by-the-plugin"}
    assert [r["decision"] for r in audited] == ["allowed"]


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_headers_withheld_when_not_granted(header_plugins: dict, server: str, tmp_path: Path, language: str) -> None:
    out, audited = _call(header_plugins[(language, True)], server, [f"{PLUGIN}:host=127.0.0.1:*"], tmp_path / "a.jsonl")
    assert out == {"status": 200, "x_test": None}  # the request itself still works
    assert [r["decision"] for r in audited] == ["denied"]
    assert "http_response_headers=true" in audited[0]["reason"]  # says how to grant it


def test_headers_withheld_when_plugin_yaml_does_not_ask(header_plugins: dict, server: str, tmp_path: Path) -> None:
    """A user's grant does not give a plugin what its manifest never declared."""
    grants = [f"{PLUGIN}:host=127.0.0.1:*", f"{PLUGIN}:http_response_headers=true"]
    out, audited = _call(header_plugins[("c", False)], server, grants, tmp_path / "audit.jsonl")
    assert out["x_test"] is None
    assert audited == []  # a read the plugin never declared is no capability decision (Go's PDK reads always)


def test_call_enable_http_response_headers_flag(header_plugins: dict, server: str) -> None:
    wasm = next((header_plugins[("c", True)] / "dist").glob("*.wasm"))
    base = ["-m", "extism_platform.cli.plugin", "call", str(wasm), "fetch", "--input", server]
    base += ["--allow-host", "127.0.0.1:*"]
    plain = run_cli(*base)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["x_test"] is None
    enabled = run_cli(*base, "--enable-http-response-headers")
    assert enabled.returncode == 0, enabled.stderr
    assert json.loads(enabled.stdout)["x_test"] == "seen-by-the-plugin"


def test_grant_option_and_extism_yaml_field_parse() -> None:
    from extism_platform.grants import grant_from_dict, parse_grant_option
    from plugin_format.errors import GrantError

    assert parse_grant_option("p:http_response_headers=true")[1].http_response_headers
    assert grant_from_dict({"http_response_headers": True}, "grants.p").http_response_headers
    with pytest.raises(GrantError, match="true or false"):
        grant_from_dict({"http_response_headers": "yes"}, "grants.p")
    with pytest.raises(GrantError, match="true or false"):
        parse_grant_option("p:http_response_headers=1")
