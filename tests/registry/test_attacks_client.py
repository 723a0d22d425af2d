"""Attacks on the consumer side (issue 15, items 10 and 16): credentials in a registry URL must never be
stored or shown; a registry that drips its answer must not hold a request or a command past its deadline."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from extism_platform.audit import AuditLog
from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_registry
from extism_platform.mcp.server import ExtismMCPServer
from plugin_format.errors import FetchError, LoadError, RegistryError
from registry_static.client import RegistryClient
from registry_static.lockfile import Lockfile
from registry_static.redact import redact_text
from registry_static.server import BackgroundServer

from .conftest import Reg
from .helpers import recorder
from .test_install import cli, write_project

SECRET = "S3CRET-pw"


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@")


def test_attack_credentials_in_registry_url_install_lock_and_output(reg: Reg, tmp_path: Path) -> None:
    with BackgroundServer(reg.dir) as url:
        project = write_project(tmp_path / "app", _with_credentials(url), {"@acme/weather": "^1"})
        ok = cli(tmp_path / "cache", "install", "--project", str(project), "--json")
        assert ok.returncode == 0, ok.stderr
        lock = (tmp_path / "app" / "extism.lock").read_text()
        assert SECRET not in ok.stdout + ok.stderr + lock
        assert {p["registry"] for p in json.loads(lock)["plugins"].values()} == {url}
        frozen = cli(tmp_path / "cache", "install", "--project", str(project), "--frozen")
        assert frozen.returncode == 0, frozen.stderr  # the lock's bare URL satisfies the URL with credentials
        write_project(tmp_path / "bad", _with_credentials(url), {"@acme/nope": "*"})
        bad = cli(tmp_path / "cache", "install", "--project", str(tmp_path / "bad" / "extism.yaml"))
        assert bad.returncode != 0 and "@acme/nope" in bad.stderr and url in bad.stderr
        assert SECRET not in bad.stdout + bad.stderr


def test_attack_credentials_in_registry_url_sent_only_as_a_header(tmp_path: Path) -> None:
    with recorder() as (url, seen):
        with pytest.raises(RegistryError) as err:
            RegistryClient(_with_credentials(url), tmp_path / "cache").versions("@acme/weather")
    assert SECRET not in str(err.value) and url in str(err.value)
    expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    assert seen and all(auth == expected for _, auth in seen)  # the credentials still work


def test_attack_credentials_in_an_old_lock_are_dropped() -> None:
    hexes = dict.fromkeys(("wasm_sha256", "plugin_json_sha256", "sig_sha256", "key_id"), "ab" * 32)
    entry = {"version": "1.0.0", "registry": f"https://alice:{SECRET}@plugins.example/", **hexes}
    lock = Lockfile.from_bytes(json.dumps({"schema": "extism-platform/lock@1", "plugins": {"x": entry}}).encode(), "l")
    assert SECRET not in lock.to_bytes().decode() and lock.plugins["x"].registry == "https://plugins.example/"


def test_attack_credentials_in_registry_url_audit_log_and_tool_result(reg: Reg, tmp_path: Path) -> None:
    with BackgroundServer(reg.dir) as url:
        secret_url = _with_credentials(url)
        arts = from_registry(secret_url, ["@acme/weather@1.2.0"], cache_dir=tmp_path / "cache")
        with pytest.raises(LoadError) as err:
            from_registry(secret_url, ["@acme/nope"], cache_dir=tmp_path / "cache")
    assert SECRET not in str(err.value)
    audit = tmp_path / "audit.jsonl"
    host = Host(audit=AuditLog(audit))
    host.add(arts[0])
    listed = json.dumps(ExtismMCPServer(host).describe_plugins())
    assert SECRET not in audit.read_text() + listed and url in listed
    assert redact_text(f"lock:{secret_url} x@1") == f"lock:{url.replace('http://', 'http://***@')} x@1"


# ---------------------------------------------------------------- item 16: a dripping registry


class _Drip(BaseHTTPRequestHandler):
    """Answers every GET one byte at a time, 0.25 s apart (bounded: at most 400 bytes, stops on `stop`)."""

    stop: threading.Event
    headers_too = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        try:
            if self.headers_too:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            else:
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
            for _ in range(400):
                if self.stop.wait(0.25):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            return


@contextlib.contextmanager
def drip_server(headers_too: bool = False) -> Iterator[str]:
    stop = threading.Event()
    handler = type("H", (_Drip,), {"stop": stop, "headers_too": headers_too})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        stop.set()
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)


@pytest.mark.parametrize("where", ["body", "headers"])
def test_attack_registry_dripping_one_byte_at_a_time(tmp_path: Path, where: str) -> None:
    with drip_server(headers_too=where == "headers") as url:
        client = RegistryClient(_with_credentials(url), tmp_path / "cache", request_deadline=1.5)
        start = time.monotonic()
        with pytest.raises(FetchError) as err:
            client.versions("@acme/weather")
        took = time.monotonic() - start
    assert took < 4, f"waited {took:.1f} s"
    msg = str(err.value)
    assert f"{url}metadata/1.root.json" in msg and "1.5 s limit of one request" in msg and SECRET not in msg


def test_attack_registry_dripping_past_the_command_deadline(tmp_path: Path) -> None:
    with drip_server() as url:
        client = RegistryClient(url, tmp_path / "cache", request_deadline=60, client_deadline=1.5)
        start = time.monotonic()
        with pytest.raises(FetchError, match=r"1\.5 s limit of one command's downloads"):
            client.versions("@acme/weather")
        assert time.monotonic() - start < 4
