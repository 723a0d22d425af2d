"""`extism-registry serve`: a plain static file server for a registry directory (local use and tests).

Strong ETags (sha256 of the content) with If-None-Match → 304, gzip for metadata/index/site files when
the client accepts it (blobs always identity), Cache-Control that matches the format
(everything is immutable except timestamp.json, root.json and the site pages), no directory listings,
no dot files, GET/HEAD only. `--token` makes it a private registry (Bearer auth) for testing clients.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import mimetypes
import posixpath
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_etag_cache: dict[tuple[str, int, int], str] = {}
_etag_lock = threading.Lock()


def etag_for(path: Path) -> str:
    """A strong ETag: the sha256 of the content, memoised by (path, mtime, size)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _etag_lock:
        if key in _etag_cache:
            return _etag_cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    tag = f'"{h.hexdigest()[:32]}"'
    with _etag_lock:
        _etag_cache[key] = tag
    return tag


#: Representations worth compressing: metadata, index files, the site. Blobs (wasm) stay identity so
#: their bytes on the wire are exactly the content-addressed file.
_COMPRESSIBLE = (".json", ".html", ".css", ".js", ".svg", ".txt", ".md")
_GZIP_MIN = 1024
_gzip_cache: dict[tuple[str, int, int], bytes] = {}


def _accepts_gzip(header: str | None) -> bool:
    for part in (header or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def gzipped(path: Path, data: bytes) -> bytes:
    """`data` gzip-compressed deterministically (no name, no time), memoised by (path, mtime, size)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _etag_lock:
        if key in _gzip_cache:
            return _gzip_cache[key]
    packed = gzip.compress(data, compresslevel=6, mtime=0)
    with _etag_lock:
        if len(_gzip_cache) > 4096:
            _gzip_cache.clear()
        _gzip_cache[key] = packed
    return packed


def cache_control(rel: str) -> str:
    """Immutable for content-addressed and versioned files; revalidate what changes."""
    base = rel.rsplit("/", 1)[-1]
    if rel.startswith(("blobs/", "index/")) or (rel.startswith("metadata/") and base[:1].isdigit()):
        return IMMUTABLE
    if rel == "metadata/timestamp.json":
        return REVALIDATE
    return REVALIDATE


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    tags = [t.strip() for t in header.split(",")]
    return any(t == etag or t == "W/" + etag for t in tags)


class RegistryRequestHandler(BaseHTTPRequestHandler):
    server_version = "extism-registry"
    sys_version = ""
    root: Path = Path(".")
    token: str | None = None
    quiet: bool = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        if not self.quiet:
            super().log_message(format, *args)

    def _resolve(self) -> Path | None:
        raw = unquote(urlsplit(self.path).path)
        norm = posixpath.normpath("/" + raw).lstrip("/")
        parts = [p for p in norm.split("/") if p]
        if any(p.startswith(".") for p in parts):
            return None
        path = self.root.joinpath(*parts) if parts else self.root
        try:
            path = path.resolve()
            path.relative_to(self.root)
        except (ValueError, OSError):
            return None
        if path.is_dir():
            path = path / "index.html"
        return path if path.is_file() else None

    def _authorized(self) -> bool:
        if not self.token:
            return True
        got = self.headers.get("Authorization", "")
        return hmac.compare_digest(got.encode(), f"Bearer {self.token}".encode())

    def _send(self, head_only: bool) -> None:
        if not self._authorized():
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Bearer realm="extism-registry"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = self._resolve()
        if path is None:
            body = b"not found\n"
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if not head_only:
                self.wfile.write(body)
            return
        rel = path.relative_to(self.root).as_posix()
        compress = (
            not rel.startswith("blobs/")
            and path.suffix in _COMPRESSIBLE
            and path.stat().st_size >= _GZIP_MIN
            and _accepts_gzip(self.headers.get("Accept-Encoding"))
        )
        # Each representation has its own strong ETag; caches keep them apart through Vary.
        etag = etag_for(path)
        if compress:
            etag = etag[:-1] + '-gzip"'
        inm = self.headers.get("If-None-Match")
        if inm is not None and _matches(inm, etag):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", cache_control(rel))
            if not rel.startswith("blobs/"):
                self.send_header("Vary", "Accept-Encoding")
            self.end_headers()
            return
        data = path.read_bytes()
        if compress:
            data = gzipped(path, data)
        ctype = (
            "application/octet-stream"
            if rel.startswith("blobs/")
            else (mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        )
        if ctype.startswith("text/") or ctype in ("application/json", "application/javascript"):
            ctype += "; charset=utf-8"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if compress:
            self.send_header("Content-Encoding", "gzip")
        if not rel.startswith("blobs/"):
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("ETag", etag)
        self.send_header("Cache-Control", cache_control(rel))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._send(False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(True)


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None, quiet: bool = True
) -> ThreadingHTTPServer:
    """A ready-to-run server for `directory` (port 0 picks a free port: see `server.server_address`)."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    handler = type("Handler", (RegistryRequestHandler,), {"root": root, "token": token, "quiet": quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


class BackgroundServer:
    """`with BackgroundServer(dir) as url:` serves on 127.0.0.1 in a thread (tests, `site --open`)."""

    def __init__(self, directory: Path, *, token: str | None = None) -> None:
        self.server = make_server(directory, token=token)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
