"""Downloads for the TUF client and the blob fetches: `file://`, `http://`, `https://`.

Why our own fetcher: python-tuf's default one cannot read `file://` registries, and a private registry's
bearer token must reach only that registry's origin — never a redirect target elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import urllib3
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

CHUNK = 256 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "extism-registry-client/1"


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

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
        self.stats = FetchStats()
        self._pool: urllib3.PoolManager | None = None

    def _count(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        self.stats.files += 1
        self.stats.urls.append(url)
        for chunk in chunks:
            self.stats.bytes += len(chunk)
            yield chunk

    def _fetch(self, url: str) -> Iterator[bytes]:
        scheme = urlsplit(url).scheme
        self.stats.requests += 1
        self.stats.last_url = url
        if scheme == "file":
            return self._count(url, self._file(url))
        if scheme in ("http", "https"):
            return self._count(url, self._http(url))
        raise exceptions.DownloadError(f"{url}: unsupported URL scheme {scheme!r} (use file://, http:// or https://)")

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

    def _http(self, url: str) -> Iterator[bytes]:
        if self._pool is None:
            self._pool = urllib3.PoolManager(retries=False)
        first = origin(self.base_url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
            if self.token and origin(current) == first:
                headers["Authorization"] = f"Bearer {self.token}"
            try:
                resp = self._pool.request(
                    "GET",
                    current,
                    headers=headers,
                    redirect=False,
                    preload_content=False,
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                )
            except urllib3.exceptions.TimeoutError as exc:
                raise exceptions.SlowRetrievalError(f"{current}: timed out") from exc
            except urllib3.exceptions.HTTPError as exc:
                raise exceptions.DownloadError(f"{current}: {exc}") from None
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.headers.get("Location", "")
                resp.drain_conn()
                resp.release_conn()
                nxt = urljoin(current, location)
                if urlsplit(current).scheme == "https" and urlsplit(nxt).scheme != "https":
                    raise exceptions.DownloadError(f"{current}: refusing a redirect from https to {nxt}")
                current = nxt
                continue
            if resp.status >= 400:
                resp.drain_conn()
                resp.release_conn()
                raise exceptions.DownloadHTTPError(f"{current}: HTTP {resp.status}", resp.status)
            return self._stream(current, resp)
        raise exceptions.DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _stream(self, url: str, resp: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            yield from resp.stream(CHUNK, decode_content=True)
        except urllib3.exceptions.TimeoutError as exc:
            raise exceptions.SlowRetrievalError(f"{url}: timed out") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise exceptions.DownloadError(f"{url}: {exc}") from None
        finally:
            resp.release_conn()


def env_token(url: str) -> str | None:
    """The token for `url` from `EXTISM_REGISTRY_TOKEN_<HOST>`, if set."""
    return os.environ.get(token_env_name(url)) or None
