"""`extism-registry serve`: ETag / If-None-Match, cache headers, and what it refuses to serve."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from registry_static.server import BackgroundServer, make_server
from tests.conftest import ROOT, free_port

from .conftest import Reg
from .helpers import wait_http


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_etag_and_if_none_match(registry_template: Reg) -> None:
    with BackgroundServer(registry_template.dir) as url:
        status, h, body = _get(url + "metadata/timestamp.json")
        assert status == 200 and h["ETag"].startswith('"') and h["Cache-Control"] == "no-cache"
        assert h["Content-Type"].startswith("application/json") and int(h["Content-Length"]) == len(body)
        status, h2, body = _get(url + "metadata/timestamp.json", {"If-None-Match": h["ETag"]})
        assert status == 304 and body == b"" and h2["ETag"] == h["ETag"]
        status, _, _ = _get(url + "metadata/timestamp.json", {"If-None-Match": '"other", W/' + h["ETag"]})
        assert status == 304
        status, _, body = _get(url + "metadata/timestamp.json", {"If-None-Match": '"other"'})
        assert status == 200 and body
        status, h, _ = _get(url + "metadata/1.root.json")
        assert "immutable" in h["Cache-Control"]
        status, h, body = _get(url + "metadata/1.root.json", method="HEAD")
        assert status == 200 and body == b"" and int(h["Content-Length"]) > 0


@pytest.mark.parametrize(
    "path", [".extism-registry.lock", "metadata/../../keys/root.pem", "%2e%2e/keys/root.pem", "blobs/", "nothing.json"]
)
def test_refuses_dotfiles_traversal_and_listings(registry_template: Reg, path: str) -> None:
    with BackgroundServer(registry_template.dir) as url:
        status, _, _ = _get(url + path)
        assert status == 404


def test_serve_command_runs_and_stops(registry_template: Reg) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry_static.cli", "serve", str(registry_template.dir), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/metadata/1.root.json")
        assert _get(f"http://127.0.0.1:{port}/metadata/timestamp.json")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out and "Traceback" not in err


def test_make_server_rejects_a_missing_directory(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(FileNotFoundError):
        make_server(tmp_path / "missing")


def test_gzip_for_metadata_identity_for_blobs(registry_template: Reg) -> None:
    import gzip
    import json

    # The largest metadata file (above the 1 KiB threshold) and the largest blob.
    snapshot = max((registry_template.dir / "metadata").glob("*.json"), key=lambda p: p.stat().st_size)
    assert snapshot.stat().st_size >= 1024
    blob = max((registry_template.dir / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    with BackgroundServer(registry_template.dir) as url:
        status, headers, body = _get(f"{url}metadata/{snapshot.name}", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip" and headers.get("Vary") == "Accept-Encoding"
        assert gzip.decompress(body) == snapshot.read_bytes() and len(body) < snapshot.stat().st_size
        json.loads(gzip.decompress(body))
        gz_etag = headers["ETag"]
        assert _get(f"{url}metadata/{snapshot.name}", {"Accept-Encoding": "gzip", "If-None-Match": gz_etag})[0] == 304
        status, headers, body = _get(f"{url}metadata/{snapshot.name}")
        assert "Content-Encoding" not in headers and body == snapshot.read_bytes() and headers["ETag"] != gz_etag
        refused = _get(f"{url}metadata/{snapshot.name}", {"Accept-Encoding": "gzip;q=0"})[1]
        assert refused.get("Content-Encoding") is None
        status, headers, body = _get(f"{url}blobs/sha256/{blob.name}", {"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in headers and body == blob.read_bytes()
