"""`extism-registry serve`: a plain static file server for a registry directory (local use and tests).

Strong ETags (sha256 of the content) with If-None-Match → 304, gzip for metadata/index/site files when
the client accepts it (blobs always identity), Cache-Control that matches the format
(everything is immutable except timestamp.json, root.json and the site pages), no directory listings,
no dot files, GET/HEAD only. Private scopes (registry.json `private_scopes`) are served only with a
bearer token that may read them (`--tokens FILE`, see `registry_static.access`); `--token T` makes the
whole directory private to one token. Answers that needed a token are `Cache-Control: private` (with
`Vary: Authorization`), so a shared cache in front never hands them to someone else.
`--access-log FILE` appends one JSON line per request, with nothing personal in it (`access_log.py`),
for `extism-registry stats`.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import posixpath
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from registry_static.access import AccessPolicy, load_token_file
from registry_static.access_log import AccessLog

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
    access: AccessPolicy | None = None
    quiet: bool = True
    access_log: AccessLog | None = None
    _status = 0
    _length = 0

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status, self._length = int(code), 0
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "content-length":
            self._length = int(value)
        super().send_header(keyword, value)

    def _log_access(self, head_only: bool) -> None:
        if self.access_log is not None and self._status:
            self.access_log.record(self.command, self.path, self._status, 0 if head_only else self._length)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        if not self.quiet:
            super().log_message(format, *args)

    def _requested(self) -> str | None:
        """The normalized path asked for (relative to the root, `index.html` for a directory), or None."""
        raw = unquote(urlsplit(self.path).path)
        norm = posixpath.normpath("/" + raw).lstrip("/")
        parts = [p for p in norm.split("/") if p]
        if any(p.startswith(".") for p in parts):
            return None
        rel = "/".join(parts)
        if not parts or raw.endswith("/") or (self.root / rel).is_dir():
            rel = f"{rel}/index.html".lstrip("/")
        return rel

    def _resolve(self, rel: str) -> Path | None:
        path = self.root / rel
        try:
            path = path.resolve()
            path.relative_to(self.root)
        except (ValueError, OSError):
            return None
        return path if path.is_file() else None

    def _plain(self, status: HTTPStatus, message: str, head_only: bool, *, auth: bool = False) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store" if auth else "no-cache")
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="extism-registry"')
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def _send(self, head_only: bool) -> None:
        rel = self._requested()
        decision = self.access.decide(rel or "", self.headers.get("Authorization")) if self.access else None
        if decision is not None and decision.status in (401, 403):
            self._plain(HTTPStatus(decision.status), decision.message, head_only, auth=True)
            return
        needed_token = decision is not None and (decision.scope is not None or self.access.everything_private)
        path = self._resolve(rel) if rel is not None and (decision is None or decision.allowed) else None
        if path is None:
            self._plain(HTTPStatus.NOT_FOUND, "not found", head_only, auth=needed_token)
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
            self._cache_headers(rel, needed_token)
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
        self.send_header("ETag", etag)
        self._cache_headers(rel, needed_token)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def _cache_headers(self, rel: str, needed_token: bool) -> None:
        control = cache_control(rel)
        vary = [] if rel.startswith("blobs/") else ["Accept-Encoding"]
        if needed_token:  # never from a shared cache to someone without the token
            control = control.replace("public", "private") if control.startswith("public") else f"private, {control}"
            vary.append("Authorization")
        self.send_header("Cache-Control", control)
        if vary:
            self.send_header("Vary", ", ".join(vary))

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._send(False)
        self._log_access(False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(True)
        self._log_access(True)


def make_server(
    directory: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    tokens: Path | None = None,
    quiet: bool = True,
    access_log: AccessLog | None = None,
) -> ThreadingHTTPServer:
    """A ready-to-run server for `directory` (port 0 picks a free port: see `server.server_address`).

    Private scopes are always enforced (with no `tokens` file nobody can read them); `token` is the
    shorthand of one token reading everything, with the whole directory private."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    if token and tokens:
        raise ValueError("give --token or --tokens, not both")
    access = (
        AccessPolicy.single_token(root, token)
        if token
        else AccessPolicy(root, load_token_file(tokens) if tokens else [])
    )
    handler = type(
        "Handler", (RegistryRequestHandler,), {"root": root, "access": access, "quiet": quiet, "access_log": access_log}
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


class BackgroundServer:
    """`with BackgroundServer(dir) as url:` serves on 127.0.0.1 in a thread (tests, `site --open`)."""

    def __init__(
        self,
        directory: Path,
        *,
        token: str | None = None,
        tokens: Path | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.server = make_server(directory, token=token, tokens=tokens, access_log=access_log)
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
