"""Servers on 127.0.0.1 for the tests (bounded waits, always stopped)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from plugin_format import signing
from plugin_format.artifact import canonical_json, sha256_hex
from registry_static.repository import ArtifactBytes
from tests.conftest import stop_process


def signed_artifact(
    template: dict[str, Any], wasm: bytes, name: str, version: str, key: Any, **fields: Any
) -> ArtifactBytes:
    """A really signed artifact without a compiler: `template` (a built plugin.json) renamed to
    `name`@`version` (plus `fields`, e.g. dependencies), signed with `key` as `extism-plugin build` does."""
    doc = {**template, "name": name, "version": version, "description": f"Plugin {name}", **fields}
    pj = canonical_json(doc)
    stmt = signing.statement(name, version, sha256_hex(wasm), sha256_hex(pj))
    return ArtifactBytes(wasm, pj, canonical_json(signing.sign_statement(stmt, key)), None, f"{name}@{version}")


def wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def process_server(*args: str, port: int, cwd: Path | None = None) -> Iterator[str]:
    """Run a server command (e.g. `python -m http.server`) and yield its base URL."""
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url + "metadata/1.root.json")
        yield url
    finally:
        stop_process(proc)
        if proc.stderr:
            proc.stderr.close()


class Recorder(BaseHTTPRequestHandler):
    """Answers every GET with `target` as a redirect (if set) and records Authorization headers."""

    seen: list[tuple[str, str | None]]
    redirect_to: str | None = None

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path.lstrip("/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@contextlib.contextmanager
def recorder(redirect_to: str | None = None) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    seen: list[tuple[str, str | None]] = []
    handler = type("H", (Recorder,), {"seen": seen, "redirect_to": redirect_to})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", seen
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)
