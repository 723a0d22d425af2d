"""Downloads for the TUF client and the blob fetches: `file://`, `http://`, `https://`.

Why our own fetcher: python-tuf's default one cannot read `file://` registries, a private registry's
bearer token must reach only that registry's origin — never a redirect target elsewhere — and a server
that drips its answer (one byte per second keeps every socket read "alive") must not hold a command:
each request has a whole-request deadline (headers and body), and a client an overall one.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import urllib3
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

from registry_static.redact import redact_text, redact_url

CHUNK = 256 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "extism-registry-client/1"
REQUEST_DEADLINE = 120.0  # seconds for one whole request (connect, headers, body), redirects included
CLIENT_DEADLINE = 900.0  # seconds for everything one client (one command) downloads

_active = threading.local()  # the request in progress on this thread: its connections are watched


class _Watch:
    """The sockets of one request; shut down by a timer when the request's deadline passes."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []
        self.expired = False
        self.lock = threading.Lock()

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self.lock:
                self.socks.append(sock)
                if self.expired:
                    self._shut(sock)

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.socks:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:  # wakes a blocked read at once; urllib3 then drops the connection
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _WatchedMixin:
    """Registers the connection's socket with the request in progress (a reused one at `request`, a new
    one at `connect`); the response keeps reading from that socket even after http.client lets go of it."""

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        watch = getattr(_active, "watch", None)
        if watch is not None:
            watch.add(getattr(self, "sock", None))
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watch = getattr(_active, "watch", None)
        if watch is not None:
            watch.add(getattr(self, "sock", None))


class _HTTPConnection(_WatchedMixin, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_WatchedMixin, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports filled in: what a token is bound to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def token_env_name(url: str) -> str:
    """`EXTISM_REGISTRY_TOKEN_<HOST>`: an env token is bound to one host (dots/dashes → `_`)."""
    host = origin(url)[1] or "LOCAL"
    return "EXTISM_REGISTRY_TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", host).upper()


@dataclass
class FetchStats:
    """What a client downloaded: for tests and benchmarks ("how much does one install cost?")."""

    files: int = 0  # files received
    bytes: int = 0  # body bytes received (after gzip decoding)
    requests: int = 0  # including 404s (e.g. the end of the root walk)
    urls: list[str] = field(default_factory=list)
    last_url: str = ""  # the most recent request, successful or not: what an error is about

    def reset(self) -> None:
        self.files, self.bytes, self.requests, self.urls = 0, 0, 0, []


class RegistryFetcher(FetcherInterface):
    """`FetcherInterface` for file/http(s) with an origin-bound bearer token and byte accounting."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        authorization: str | None = None,
        timeout: float = 30.0,
        request_deadline: float = REQUEST_DEADLINE,
        client_deadline: float = CLIENT_DEADLINE,
    ) -> None:
        self.base_url = base_url
        self.token = token
        # sent to the registry's own origin only: the bearer token, else the URL's user:password
        self.authorization = f"Bearer {token}" if token else authorization
        self.timeout = timeout  # per socket operation
        self.request_deadline = request_deadline
        self.client_deadline = client_deadline
        self._client_end = time.monotonic() + client_deadline
        self.stats = FetchStats()
        self.listener: Callable[[int], None] | None = None  # told each chunk's size (a progress bar)
        self._pool: urllib3.PoolManager | None = None

    def _count(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        self.stats.files += 1
        self.stats.urls.append(url)
        for chunk in chunks:
            self.stats.bytes += len(chunk)
            if self.listener is not None:
                self.listener(len(chunk))
            yield chunk

    def _fetch(self, url: str) -> Iterator[bytes]:
        scheme = urlsplit(url).scheme
        self.stats.requests += 1
        self.stats.last_url = url
        if scheme == "file":
            return self._count(url, self._file(url))
        if scheme in ("http", "https"):
            return self._count(url, self._http(url))
        raise exceptions.DownloadError(
            f"{redact_url(url)}: unsupported URL scheme {scheme!r} (use file://, http:// or https://)"
        )

    @staticmethod
    def _file(url: str) -> Iterator[bytes]:
        path = url2pathname(urlsplit(url).path)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            # 404 matters: it is how the TUF client learns there is no newer root.
            raise exceptions.DownloadHTTPError(f"{path}: not found", 404) from None
        except IsADirectoryError:
            raise exceptions.DownloadHTTPError(f"{path}: is a directory", 404) from None
        except OSError as exc:
            raise exceptions.DownloadError(f"{path}: {exc.strerror}") from None

        def gen() -> Iterator[bytes]:
            with f:
                while chunk := f.read(CHUNK):
                    yield chunk

        return gen()

    def _deadline(self) -> tuple[float, str]:
        """When the request starting now must be done, and which limit that is (for the error)."""
        own = time.monotonic() + self.request_deadline
        if self._client_end < own:
            return self._client_end, f"the {self.client_deadline:g} s limit of one command's downloads"
        return own, f"the {self.request_deadline:g} s limit of one request"

    def _http(self, url: str) -> Iterator[bytes]:
        if self._pool is None:
            self._pool = urllib3.PoolManager(retries=False)
            self._pool.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        end, limit = self._deadline()
        if end <= time.monotonic():
            raise exceptions.SlowRetrievalError(f"{redact_url(url)}: not started: past {limit}")
        watch = _Watch()
        timer = threading.Timer(end - time.monotonic(), watch.expire)
        timer.daemon = True
        timer.start()
        _active.watch = watch
        try:
            chunks = self._http_watched(url, watch, end, limit)
        except BaseException:
            timer.cancel()
            raise
        finally:
            _active.watch = None
        return self._finish(chunks, timer, watch, url, limit)

    def _finish(
        self, chunks: Iterator[bytes], timer: threading.Timer, watch: _Watch, url: str, limit: str
    ) -> Iterator[bytes]:
        try:
            for chunk in chunks:
                if watch.expired:
                    break
                yield chunk
            if watch.expired:
                raise exceptions.SlowRetrievalError(self._too_slow(url, limit))
        except (exceptions.DownloadError, urllib3.exceptions.HTTPError, OSError):
            if watch.expired:
                raise exceptions.SlowRetrievalError(self._too_slow(url, limit)) from None
            raise
        finally:
            timer.cancel()

    @staticmethod
    def _too_slow(url: str, limit: str) -> str:
        return f"{redact_url(url)}: no complete answer within {limit} (the server is too slow, or drips its answer)"

    def _http_watched(self, url: str, watch: _Watch, end: float, limit: str) -> Iterator[bytes]:
        try:
            return self._http_request(url, end)
        except (exceptions.DownloadError, urllib3.exceptions.HTTPError, OSError):
            if watch.expired:
                raise exceptions.SlowRetrievalError(self._too_slow(url, limit)) from None
            raise

    def _http_request(self, url: str, end: float) -> Iterator[bytes]:
        first = origin(self.base_url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
            if self.authorization and origin(current) == first:
                headers["Authorization"] = self.authorization
            try:
                resp = self._pool.request(
                    "GET",
                    current,
                    headers=headers,
                    redirect=False,
                    preload_content=False,
                    # connecting has no socket to close yet: bound it by the deadline itself; reads are
                    # bounded by the timer, which closes the connection when the deadline passes
                    timeout=urllib3.Timeout(
                        connect=max(0.001, min(self.timeout, end - time.monotonic())), read=self.timeout
                    ),
                )
            except urllib3.exceptions.TimeoutError as exc:
                raise exceptions.SlowRetrievalError(f"{redact_url(current)}: timed out") from exc
            except urllib3.exceptions.HTTPError as exc:
                raise exceptions.DownloadError(f"{redact_url(current)}: {redact_text(str(exc))}") from None
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.headers.get("Location", "")
                resp.drain_conn()
                resp.release_conn()
                nxt = urljoin(current, location)
                if urlsplit(current).scheme == "https" and urlsplit(nxt).scheme != "https":
                    raise exceptions.DownloadError(
                        f"{redact_url(current)}: refusing a redirect from https to {redact_url(nxt)}"
                    )
                current = nxt
                continue
            if resp.status >= 400:
                reason = _reason(resp) if resp.status in (401, 403) else ""
                resp.drain_conn()
                resp.release_conn()
                raise exceptions.DownloadHTTPError(f"{redact_url(current)}: HTTP {resp.status}{reason}", resp.status)
            return self._stream(current, resp)
        raise exceptions.DownloadError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")

    def _stream(self, url: str, resp: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            yield from resp.stream(CHUNK, decode_content=True)
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError(f"{redact_url(url)}: timed out") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise exceptions.DownloadError(f"{redact_url(url)}: {redact_text(str(exc))}") from None
        finally:
            resp.release_conn()


def _reason(resp: urllib3.BaseHTTPResponse) -> str:
    """The first line of a 401/403 answer's text (`extism-registry serve` says which token or scope is
    missing), bounded and printable, as `: …`; empty when there is none."""
    try:
        raw = resp.read(400, decode_content=True) or b""
    except (urllib3.exceptions.HTTPError, OSError):
        return ""
    line = raw.decode("utf-8", "replace").strip().splitlines()[0] if raw.strip() else ""
    line = "".join(c for c in line if c.isprintable())[:300]
    return f": {redact_text(line)}" if line else ""


def env_token(url: str) -> str | None:
    """The token for `url` from `EXTISM_REGISTRY_TOKEN_<HOST>`, if set."""
    return os.environ.get(token_env_name(url)) or None
