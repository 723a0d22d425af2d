"""Read a registry (file://, http://, https://), verifying everything before any byte is used.

Two independent layers: TUF (python-tuf's ngclient) verifies the index file of a package through
timestamp → snapshot → targets → the scope's delegated role; the index file pins every blob by sha256
and size and names the author key, whose DSSE signature over {name, version, wasm sha256,
plugin.json sha256} is checked last. Only then are the blobs written to the content-addressed cache.

    client = RegistryClient("https://plugins.example.com")
    info = client.resolve("@acme/weather", "^1.2")
    plugin = client.fetch(info.name, info.version)   # plugin.wasm, plugin.manifest, plugin.path
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from urllib.request import pathname2url

from tuf.api import exceptions as tuf_exc
from tuf.ngclient import Updater

from plugin_format import signing
from plugin_format.artifact import sha256_hex, verify_bytes
from plugin_format.errors import (
    ExtismPlatformError,
    FetchError,
    IntegrityError,
    NotFoundError,
    OfflineError,
    RegistryError,
    ScanError,
    SemverError,
    SignatureError,
    TrustError,
    VerifyError,
)
from plugin_format.paths import cache_dir
from plugin_format.scan import scan_module
from plugin_format.semver import Range, Version
from registry_static.advisories import Advisory, AdvisoryFile
from registry_static.credentials import resolve_token
from registry_static.fetcher import (
    CLIENT_DEADLINE,
    REQUEST_DEADLINE,
    FetchStats,
    RegistryFetcher,
    token_env_name,
)
from registry_static.index import IndexFile, VersionEntry
from registry_static.layout import advisories_path, blob_path, index_path, split_name
from registry_static.offline import CachedMetadata
from registry_static.redact import redact_url, split_credentials

ROOT_MAX = 512_000

#: `progress(what, size)` → a context manager yielding `advance(n_bytes)`: a download's progress bar
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


def default_cache_dir() -> Path:
    """The platform cache (`$EXTISM_PLATFORM_CACHE`, else `~/.cache/extism-platform`): blobs live in
    `blobs/sha256/`, per-registry TUF state in `registries/<sha256(url)[:16]>/`."""
    return cache_dir()


def normalize_url(url: str) -> str:
    """A registry URL with a trailing slash; a plain path becomes a file:// URL."""
    if "://" not in url:
        url = "file://" + pathname2url(str(Path(url).expanduser().resolve()))
    scheme = urlsplit(url).scheme
    if scheme not in ("file", "http", "https"):
        raise RegistryError(f"{redact_url(url)}: unsupported registry URL (use https://…, http://… or file:///path)")
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class VersionInfo:
    """One version of a plugin as the (verified) index file describes it."""

    name: str
    version: str
    yanked: bool
    deprecated: str | None
    sha256: str  # of the wasm
    size: int
    dependencies: dict[str, str]
    exports: list[dict[str, Any]]
    permissions: dict[str, Any]
    key_id: str  # the author key that signed the artifact (plugin_format.signing.key_id)
    published: str
    description: str = ""
    language: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    plugin_json_sha256: str = ""
    sig_sha256: str = ""
    wasi: bool | None = None  # None: not recorded (published before the index had it)
    #: what this version asks for compared with the previous one (see `VersionEntry.permissions_diff`)
    permissions_diff: dict[str, Any] | None = None

    @property
    def semver(self) -> Version:
        return Version.parse(self.version)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_entry(cls, name: str, e: VersionEntry) -> VersionInfo:
        return cls(
            name=name,
            version=e.version,
            yanked=e.yanked,
            deprecated=e.deprecated,
            sha256=e.wasm.sha256,
            size=e.wasm.size,
            dependencies=dict(e.dependencies),
            exports=list(e.exports),
            permissions=dict(e.permissions),
            key_id=e.key_id,
            published=e.published,
            description=e.description,
            language=e.language,
            license=e.license,
            tags=list(e.tags),
            plugin_json_sha256=e.plugin_json.sha256,
            sig_sha256=e.sig.sha256,
            wasi=e.wasi,
            permissions_diff=e.permissions_diff,
        )


@dataclass(frozen=True)
class FetchedPlugin:
    """A verified plugin: the three artifact files, the parsed plugin.json and the cached wasm's path."""

    name: str
    version: str
    wasm: bytes
    plugin_json: bytes
    sig: bytes
    manifest: dict[str, Any]
    path: Path
    info: VersionInfo
    #: the author's key that the signature was verified with (the scope's, from TUF-signed metadata)
    author_key: Any = None

    @property
    def sha256(self) -> str:
        return self.info.sha256


_INTERNAL = (RecursionError, MemoryError, AssertionError, AttributeError, NameError, TypeError)


def _explain(exc: BaseException, url: str, last_url: str = "", token_hint: str = "") -> RegistryError:
    """One actionable message per failure class of the TUF client, naming the file at fault
    (`token_hint`: what to do about a 401/403, from `credentials.resolve_token`). python-tuf reports
    anything raised while fetching as a DownloadError; a fault of this process (exhausted stack or
    memory, a bug) is re-raised as itself, never reported as a download failure."""
    if isinstance(exc, tuf_exc.DownloadError) and isinstance(exc.__cause__, _INTERNAL):
        raise exc.__cause__
    msg = str(exc) or type(exc).__name__
    if last_url.startswith(url) and not isinstance(exc, tuf_exc.DownloadHTTPError):
        msg = f"{last_url[len(url) :]}: {msg}"
    if isinstance(exc, tuf_exc.ExpiredMetadataError):
        return TrustError(
            f"registry {url}: {msg}; refusing stale metadata (a freeze attack, or the registry "
            "was not refreshed: its operator must run `extism-registry refresh`)"
        )
    if isinstance(exc, tuf_exc.BadVersionNumberError):
        return TrustError(
            f"registry {url}: {msg}; this is older than what was already trusted (a rollback "
            "attack, or a stale mirror/CDN cache)"
        )
    if isinstance(exc, tuf_exc.UnsignedMetadataError):
        return TrustError(
            f"registry {url}: {msg}; metadata not signed by the keys its delegator names "
            "(tampered, or signed by another scope's key)"
        )
    if isinstance(exc, tuf_exc.LengthOrHashMismatchError | tuf_exc.DownloadLengthMismatchError):
        return TrustError(
            f"registry {url}: {msg}; a file differs from what the signed metadata pins "
            "(tampered, or files of two registry states mixed)"
        )
    if isinstance(exc, tuf_exc.RepositoryError):
        return TrustError(f"registry {url}: {msg}")
    if isinstance(exc, tuf_exc.DownloadHTTPError):
        if exc.status_code == 401:
            hint = token_hint or f"set ${token_env_name(url)} or run `extism-plugin login {url}`"
            return FetchError(f"registry {url}: {msg}; {hint}")
        if exc.status_code == 403:
            return FetchError(f"registry {url}: {msg}")
        return FetchError(f"registry {url}: {msg}")
    if isinstance(exc, tuf_exc.DownloadError):
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        return FetchError(f"registry {url}: {msg}{cause}")
    return RegistryError(f"registry {url}: {msg}")


class RegistryClient:
    """A verifying reader of one registry.

    `url`: https://…, http://…, file:///… or a plain directory path. `cache_dir`: the content-addressed
    cache (default `default_cache_dir()`). `token`: bearer token sent only to the registry's own origin
    (default: `$<token_env>`, then `$EXTISM_REGISTRY_TOKEN_<HOST>`, then the `extism-plugin login` store:
    see `registry_static.credentials`; `token_env_label` names where `token_env` was set, for the 401
    hint). `scan`: check each fetched module against its plugin.json
    (`plugin_format.scan`) before the cache learns it. `root`: the registry's trusted `1.root.json` (or newer)
    bytes; without it the first contact trusts the served `metadata/1.root.json` (trust on first use),
    optionally pinned by `root_sha256`. Later root rotations are followed and verified by TUF.
    Credentials in `url` (`https://user:PASSWORD@host/`) are split off: `self.url` never has them, they
    go to the registry's origin as an Authorization header (a token wins). `request_deadline` and
    `client_deadline` bound one whole download and everything this client downloads (seconds).
    `offline`: never touch the network; index files come from the cached TUF state (verified again,
    `offline.py`) and blobs from the cache, else `OfflineError` names what is missing. `progress`:
    called around each blob download (a progress bar on a terminal)."""

    def __init__(
        self,
        url: str,
        cache_dir: Path | None = None,
        token: str | None = None,
        *,
        root: bytes | None = None,
        root_sha256: str | None = None,
        timeout: float = 30.0,
        request_deadline: float = REQUEST_DEADLINE,
        client_deadline: float = CLIENT_DEADLINE,
        authorization: str | None = None,
        token_env: str | None = None,
        token_env_label: str = "extism.yaml token_env",
        scan: bool = True,
        offline: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.offline = offline
        self.progress = progress
        self._cached_meta: CachedMetadata | None = None
        self.url, in_url = split_credentials(normalize_url(url))
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        choice = resolve_token(self.url, explicit=token, token_env=token_env, token_env_label=token_env_label)
        self.token_source = choice.source  # for messages: where the token came from, never the token
        self._token_hint = choice.missing
        self.scan = scan
        self.fetcher = RegistryFetcher(
            self.url,
            choice.token,
            authorization=authorization or in_url,
            timeout=timeout,
            request_deadline=request_deadline,
            client_deadline=client_deadline,
        )
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.state_dir = self.cache_dir / "registries" / key
        self._root = root
        self._root_sha256 = root_sha256
        self._updater: Updater | None = None
        self._indexes: dict[str, IndexFile] = {}
        self._advisories: dict[str, AdvisoryFile] = {}

    def _explain(self, exc: BaseException) -> RegistryError:
        return _explain(exc, self.url, self.fetcher.stats.last_url, self._token_hint)

    @property
    def stats(self) -> FetchStats:
        """Files and bytes downloaded by this client so far."""
        return self.fetcher.stats

    # ------------------------------------------------------------- TUF

    def _bootstrap(self, meta_dir: Path) -> bytes | None:
        if self._root is not None:
            data = self._root
        elif (meta_dir / "root.json").exists():
            return None  # the cached, already-verified root is the trust anchor
        else:
            try:
                data = self.fetcher.download_bytes(self.url + "metadata/1.root.json", ROOT_MAX)
            except (tuf_exc.DownloadError, OSError) as exc:
                raise self._explain(exc) from None
        if self._root_sha256 and sha256_hex(data) != self._root_sha256.lower():
            raise TrustError(
                f"registry {self.url}: metadata/1.root.json has sha256 {sha256_hex(data)[:16]}…, "
                f"not the pinned {self._root_sha256[:16]}…"
            )
        return data

    def updater(self) -> Updater:
        """The TUF updater (refreshed once per client: build a new client, or call `refresh()`, to re-read)."""
        if self._updater is None:
            meta_dir = self.state_dir / "metadata"
            meta_dir.mkdir(parents=True, exist_ok=True)
            (self.state_dir / "url").write_text(self.url + "\n")
            try:
                self._updater = Updater(
                    str(meta_dir),
                    self.url + "metadata/",
                    str(self.state_dir / "index"),
                    self.url,
                    self.fetcher,
                    bootstrap=self._bootstrap(meta_dir),
                )
                self._updater.refresh()
            except RegistryError:
                self._updater = None
                raise
            except (tuf_exc.RepositoryError, tuf_exc.DownloadError) as exc:
                self._updater = None
                raise self._explain(exc) from None
            except (OSError, ValueError) as exc:
                self._updater = None
                raise RegistryError(f"registry {self.url}: {exc}") from None
        return self._updater

    def refresh(self) -> None:
        """Forget what this client read; the next call re-reads timestamp and snapshot."""
        self._updater = None
        self._cached_meta = None
        self._indexes.clear()
        self._advisories.clear()

    def cached_metadata(self) -> CachedMetadata:
        """The cached, re-verified TUF state (what `offline=True` reads)."""
        if self._cached_meta is None:
            self._cached_meta = CachedMetadata(self.state_dir, self.url)
        return self._cached_meta

    @property
    def stale(self) -> bool:
        """Offline only: the cached metadata has expired (it still verifies; the registry was not asked)."""
        return self.offline and self.cached_metadata().stale

    def index(self, name: str) -> IndexFile:
        """The package's index file, verified by TUF (downloaded only when the cached copy is stale)."""
        if name in self._indexes:
            return self._indexes[name]
        try:
            target = index_path(name)
        except RegistryError as exc:
            raise NotFoundError(str(exc)) from None
        try:
            data = self._target(target)
        except OfflineError as exc:
            raise OfflineError(f"{name}: {exc}") from None
        if data is None:
            raise NotFoundError(f"registry {self.url}{' (offline)' if self.offline else ''}: no plugin named {name!r}")
        idx = IndexFile.from_bytes(data, f"{self.url}{target}", name)
        self._indexes[name] = idx
        return idx

    def _target(self, target: str) -> bytes | None:
        """A TUF target's bytes, verified (from the local TUF cache when still current); None if the
        signed metadata lists no such target. Offline: from the cached, re-verified TUF state only."""
        local = self.state_dir / "index" / quote(target, safe="")
        if self.offline:
            try:
                return self.cached_metadata().target(target, local)
            except OfflineError:
                raise
            except NotFoundError:
                return None
        up = self.updater()
        try:
            info = up.get_targetinfo(target)
            if info is None:
                return None
            path = up.find_cached_target(info, str(local)) or up.download_target(info, str(local))
            return Path(path).read_bytes()
        except (tuf_exc.RepositoryError, tuf_exc.DownloadError) as exc:
            raise self._explain(exc) from None

    def advisories(self, name: str) -> list[Advisory]:
        """The advisories (withdrawn ones left out) about `name`, from its scope's signed advisories file.
        A scope without advisories costs no request: its signed role simply lists no such file."""
        return self.scope_advisories(split_name(name)[0]).for_package(name)

    def scope_advisories(self, scope: str) -> AdvisoryFile:
        """Every advisory of a scope (`acme`, `_` for unscoped), verified through TUF; empty when none."""
        if scope not in self._advisories:
            target = advisories_path(scope)
            data = self._target(target)
            self._advisories[scope] = (
                AdvisoryFile.from_bytes(data, f"{self.url}{target}", scope) if data is not None else AdvisoryFile(scope)
            )
        return self._advisories[scope]

    # ------------------------------------------------------------- public API

    def packages(self) -> list[str]:
        """Every package name the registry lists, from the verified TUF roles (top-level targets →
        each delegated scope role → its `index/<scope>/<name>.json` targets), sorted. No index file
        is downloaded; the site's `search.json` (unsigned) is not used."""
        if self.offline:
            return _names(self.cached_metadata().target_paths())
        up = self.updater()
        try:
            # python-tuf has no public "list targets": load each role through the same verified path
            # `get_targetinfo` uses (signatures, versions, expiry, snapshot meta all checked).
            top = up._load_targets("targets", "root")  # noqa: SLF001
            roles = (
                [r.name for r in top.delegations.roles.values()] if top.delegations and top.delegations.roles else []
            )
            paths = []
            for role in roles:
                try:
                    paths += list(up._load_targets(role, "targets").targets)  # noqa: SLF001
                except tuf_exc.DownloadHTTPError as exc:
                    if exc.status_code in (401, 403):
                        continue  # a private scope this client may not read: not listed
                    raise
        except (tuf_exc.RepositoryError, tuf_exc.DownloadError) as exc:
            raise self._explain(exc) from None
        return _names(paths)

    def versions(self, name: str) -> list[VersionInfo]:
        """Every published version of `name` (yanked ones included, marked), lowest first."""
        idx = self.index(name)
        return [VersionInfo.from_entry(name, e) for e in idx.versions]

    def resolve(self, name: str, range_spec: str) -> VersionInfo:
        """The highest non-yanked version matching `range_spec` (^1.2, ~0.3.1, >=1,<2, 1.2.3, *)."""
        try:
            rng = Range.parse(range_spec)
        except SemverError as exc:
            raise RegistryError(f"{name}: {exc}") from None
        infos = self.versions(name)
        best = None
        for info in infos:
            if not info.yanked and rng.matches(info.semver) and (best is None or info.semver > best.semver):
                best = info
        if best is None:
            live = [i.version for i in infos if not i.yanked]
            yanked = [i.version for i in infos if i.yanked and rng.matches(i.semver)]
            extra = f"; matching but yanked: {', '.join(yanked)}" if yanked else ""
            raise NotFoundError(
                f"{name}: no version matches {range_spec!r} (available: {', '.join(live) or 'none'}{extra})"
            )
        return best

    def fetch(self, name: str, version: str) -> FetchedPlugin:
        """Download (or take from the cache) and verify one exact version; yanked versions stay fetchable."""
        idx = self.index(name)
        try:
            entry = idx.get(version)
        except SemverError as exc:
            raise RegistryError(f"{name}: {exc}") from None
        if entry is None:
            have = ", ".join(e.version for e in idx.versions) or "none"
            raise NotFoundError(f"registry {self.url}: {name} has no version {version} (published: {have})")
        blobs = {
            label: self._blob(ref.sha256, ref.size, f"{name}@{version} {label}")
            for label, ref in (("wasm", entry.wasm), ("plugin_json", entry.plugin_json), ("sig", entry.sig))
        }
        pem = idx.keys.get(entry.key_id)
        if pem is None:
            raise SignatureError(
                f"{self.url}{index_path(name)}: no public key for author key id {entry.key_id[:16]}… of {version}"
            )
        try:
            key = signing.load_public_key(pem)
            if signing.key_id(key) != entry.key_id:
                raise SignatureError(f"{self.url}{index_path(name)}: key {entry.key_id[:16]}… does not match its id")
            verified = verify_bytes(
                blobs["wasm"],
                blobs["plugin_json"],
                blobs["sig"],
                keys=[key],
                require_signature=True,
                where=f"{name}@{version}",
            )
        except (VerifyError, signing.SigningError) as exc:
            raise SignatureError(f"registry {self.url}: {exc}") from None
        except ExtismPlatformError as exc:
            raise SignatureError(f"registry {self.url}: {name}@{version}: {exc}") from None
        if (verified.name, Version.parse(verified.version)) != (name, Version.parse(version)):
            raise SignatureError(
                f"registry {self.url}: the artifact listed as {name}@{version} is signed as "
                f"{verified.name}@{verified.version}"
            )
        if self.scan:
            report = scan_module(blobs["wasm"], verified.manifest, limits=None, where=f"{name}@{version} plugin.json")
            if not report.ok:
                raise ScanError(
                    f"registry {self.url}: {name}@{version} fails the install scan (nothing was cached):\n  "
                    + "\n  ".join(report.problems)
                )
        # Everything checked: now (and only now) the cache learns these bytes.
        paths = {label: self._store(data) for label, data in blobs.items()}
        return FetchedPlugin(
            name,
            entry.version,
            blobs["wasm"],
            blobs["plugin_json"],
            blobs["sig"],
            verified.manifest,
            paths["wasm"],
            VersionInfo.from_entry(name, entry),
            key,
        )

    def readme(self, name: str, version: str) -> str | None:
        """The README published with `version` (verified against the index file), or None."""
        entry = self.index(name).get(version)
        if entry is None or entry.readme is None:
            return None
        return self._blob(entry.readme.sha256, entry.readme.size, f"{name}@{version} README").decode("utf-8", "replace")

    # ------------------------------------------------------------- blobs

    def blob_cache_path(self, sha256: str) -> Path:
        return self.cache_dir / blob_path(sha256)

    def _blob(self, sha256: str, size: int, what: str) -> bytes:
        cached = self.blob_cache_path(sha256)
        if cached.is_file():
            data = cached.read_bytes()
            if len(data) == size and sha256_hex(data) == sha256:
                return data
            cached.unlink(missing_ok=True)  # a damaged cache entry is refetched, never used
        if self.offline:
            raise OfflineError(
                f"offline: {what} (sha256 {sha256[:16]}…, {size:,} bytes) is not in the cache {self.cache_dir}; "
                "run the command once without --offline"
            )
        url = self.url + blob_path(sha256)
        try:
            if self.progress is None:
                data = self.fetcher.download_bytes(url, size)
            else:
                with self.progress(what, size) as advance:
                    self.fetcher.listener = advance
                    try:
                        data = self.fetcher.download_bytes(url, size)
                    finally:
                        self.fetcher.listener = None
        except tuf_exc.DownloadLengthMismatchError:
            raise IntegrityError(
                f"{url} ({what}): larger than the {size} bytes the signed index file records (tampered blob)"
            ) from None
        except tuf_exc.DownloadError as exc:
            raise self._explain(exc) from None
        if len(data) != size or sha256_hex(data) != sha256:
            raise IntegrityError(
                f"{url} ({what}): sha256/size differ from the signed index file (tampered blob); nothing was cached"
            )
        return data

    def _store(self, data: bytes) -> Path:
        from registry_static.cache import store_blob  # cache imports this module

        return store_blob(data, self.cache_dir)


def _names(target_paths: list[str]) -> list[str]:
    """Package names from TUF target paths `index/<scope>/<name>.json` (scope `_`: unscoped)."""
    out = []
    for path in target_paths:
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "index" or not parts[2].endswith(".json"):
            continue
        bare = parts[2][: -len(".json")]
        if bare.startswith("_"):
            continue  # the scope policy file
        out.append(bare if parts[1] == "_" else f"@{parts[1]}/{bare}")
    return sorted(set(out))
