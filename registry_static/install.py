"""`extism-plugin install`: extism.yaml (+ extism.lock) → exact versions → fetched and verified → extism.lock.

1. Resolve (`resolver.py`) — or, with `frozen=True`, take extism.lock as it is after checking that it
   satisfies extism.yaml. Locked versions are preferred while they still satisfy (no surprise upgrades);
   `upgrade` lifts that for some or all plugins.
2. Fetch each plugin through `RegistryClient` (TUF-verified index, sha256 of every blob, the author's
   signature; blobs land in the content-addressed cache only after that).
3. Compare with what the lock pinned: the same version must have the same hashes, author key and
   dependencies, or the install is refused.
4. Permission changes are never silent: a plugin whose new version asks for more than extism.lock's
   record of the locked one (a new host, path, config key, host function, WASI, a higher limit) stops
   the install with the difference, unless extism.yaml's `grants:` already cover it or
   `accept_permissions=True` (`--accept-permissions`). `update` goes through the same `install()`.
   Advisories about the chosen versions are read (signed, like the index) and become warnings.
With `offline=True` nothing is downloaded: index files come from the cached, re-verified TUF state
and blobs from the cache, or the install fails naming what is missing. `frozen=True` needs no
registry either when the cache is warm: if a registry cannot be reached, its plugins are taken from
the cache, verified against the lock and the cached signed metadata (as `cargo --frozen`).

5. Only then `Installation.write()` stores the author keys in the cache and writes extism.lock
   atomically — and not at all when nothing changed. Any failure before leaves extism.lock untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.artifact import sha256_hex
from plugin_format.errors import FetchError, IntegrityError, LockError, PermissionChangeError, ProjectError
from plugin_format.permissions import (
    PermissionDiff,
    PermissionSet,
    grant_for,
    grant_snippet,
    grants_from_project,
    uncovered,
)
from plugin_format.permissions import diff as permission_diff
from registry_static import cache
from registry_static.advisories import Advisory, fix_command, warning_text
from registry_static.client import FetchedPlugin, Progress, RegistryClient, VersionInfo, default_cache_dir
from registry_static.lockfile import LockedPlugin, Lockfile, differences, read_lock, write_lock
from registry_static.project import Project, RegistryRef
from registry_static.resolver import Candidate, Resolver

UPGRADE_ALL = "*"


class RegistrySource:
    """The resolver's `VersionSource` over a project's registries: a plugin comes from the registry
    extism.yaml names for it, else from the registry of the plugin that needs it, else `default`."""

    def __init__(self, project: Project, client: Callable[[RegistryRef], RegistryClient]) -> None:
        self.project = project
        self.client = client
        self.routes: dict[str, RegistryRef] = {}

    def candidates(self, name: str, wanted_by: str | None) -> list[Candidate]:
        ref = self.routes.get(name) or self.project.registry_for(name, self.routes.get(wanted_by or ""))
        self.routes[name] = ref
        return [Candidate(name, v.semver, v.dependencies, v.yanked, v) for v in self.client(ref).versions(name)]


class ProjectClients:
    """One verifying client per registry URL, with the token, root pin and credentials extism.yaml gives
    that registry (a URL only the lock names gets none). `clients(url)` → `RegistryClient`; `offline`
    clients read only the cache."""

    def __init__(
        self,
        project: Project,
        cache_root: Path | None = None,
        *,
        offline: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.project = project
        self.cache_root = self.cache_dir = Path(cache_root) if cache_root else default_cache_dir()
        self.offline = offline
        self.progress = progress
        self.refs = {r.url: r for r in project.registries.values()}
        self.clients: dict[str, RegistryClient] = {}

    def __call__(self, url: str, *, offline: bool | None = None) -> RegistryClient:
        offline = self.offline if offline is None else offline
        current = self.clients.get(url)
        if current is None or current.offline != offline:
            ref = self.refs.get(url)
            self.clients[url] = RegistryClient(
                url,
                self.cache_dir,
                token_env=ref.token_env if ref else None,
                root_sha256=ref.root_sha256 if ref else None,
                authorization=ref.authorization if ref else None,
                offline=offline,
                progress=self.progress,
            )
        return self.clients[url]

    def for_ref(self, ref: RegistryRef) -> RegistryClient:
        return self(ref.url)

    @property
    def blobs_downloaded(self) -> int:
        return sum(1 for c in self.clients.values() for u in c.stats.urls if "/blobs/" in u)


@dataclass(frozen=True)
class Change:
    """One plugin whose locked version an install changes (`old`/`new` None: added/removed)."""

    name: str
    old: str | None
    new: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "old": self.old, "new": self.new}

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.name} {self.new} (added)"
        if self.new is None:
            return f"{self.name} {self.old} (removed)"
        return f"{self.name} {self.old} → {self.new}"


@dataclass(frozen=True)
class Installed:
    locked: LockedPlugin
    fetched: FetchedPlugin
    direct: bool  # listed in extism.yaml (else: a dependency)
    advisories: tuple[Advisory, ...] = ()  # the signed advisories that affect this version
    #: how its requested permissions differ from the version extism.lock had (None: no earlier record)
    permission_change: PermissionDiff | None = None

    def to_dict(self) -> dict[str, Any]:
        info = self.fetched.info
        return {
            "name": self.locked.name,
            "version": self.locked.version,
            "registry": self.locked.registry,
            "wasm_sha256": self.locked.wasm_sha256,
            "key_id": self.locked.key_id,
            "direct": self.direct,
            "yanked": info.yanked,
            "deprecated": info.deprecated,
            "path": str(self.fetched.path),
            "advisories": [a.to_dict() for a in self.advisories],
            "permission_change": self.permission_change.to_dict() if self.permission_change else None,
        }


@dataclass
class Installation:
    """Everything fetched and verified; `write()` commits it."""

    project: Project
    lock: Lockfile
    plugins: list[Installed]
    cache_dir: Path
    previous: bytes | None
    frozen: bool = False
    blobs_downloaded: int = 0
    warnings: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    offline: bool = False

    @property
    def changed(self) -> bool:
        return self.lock.to_bytes() != self.previous

    def changes(self) -> list[Change]:
        """What moved against the previous extism.lock (old → new), by name."""
        before = Lockfile.from_bytes(self.previous, str(self.project.lock_path)) if self.previous else Lockfile({})
        old = {n: p.version for n, p in before.plugins.items()}
        new = {n: p.version for n, p in self.lock.plugins.items()}
        return [Change(n, old.get(n), new.get(n)) for n in sorted(set(old) | set(new)) if old.get(n) != new.get(n)]

    def write(self) -> bool:
        """Store the author keys in the cache, then extism.lock (atomically, only if it changed)."""
        for key_id, pem in sorted(self.keys.items()):
            cache.store_key(key_id, pem, self.cache_dir)
        return write_lock(self.project.lock_path, self.lock)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.project.path),
            "lock": str(self.project.lock_path),
            "changed": self.changed,
            "frozen": self.frozen,
            "offline": self.offline,
            "blobs_downloaded": self.blobs_downloaded,
            "changes": [c.to_dict() for c in self.changes()],
            "plugins": [p.to_dict() for p in self.plugins],
            "warnings": list(self.warnings),
        }


def install(
    project: Project,
    *,
    frozen: bool = False,
    upgrade: Collection[str] = (),
    cache_dir: Path | None = None,
    accept_permissions: bool = False,
    trusted_keys: list[Any] | None = None,
    offline: bool = False,
    progress: Progress | None = None,
) -> Installation:
    """Resolve (or read the lock), fetch and verify every plugin; nothing is written (call `.write()`).
    `offline`: only the cache (see the module docstring); `progress`: a download progress bar.

    Raises `PermissionChangeError` (nothing written) when a plugin's new version asks for more than
    the locked one and neither extism.yaml's grants nor `accept_permissions` allow it. `trusted_keys`:
    the author keys an OCI artifact's signature must verify against (default: the keys this machine
    knows, `$EXTISM_TRUSTED_KEYS` and the own signing key's; a static registry's come from its
    TUF-signed scope policy)."""
    client_for = ProjectClients(project, cache_dir, offline=offline, progress=progress)
    cache_root = client_for.cache_root
    lock_path = project.lock_path
    old = read_lock(lock_path)
    clients = client_for.clients

    if frozen:
        if upgrade:
            raise LockError("--frozen installs exactly what extism.lock pins; it cannot be combined with --upgrade")
        if old is None:
            raise LockError(f"{lock_path}: not found; --frozen needs one (run `extism-plugin install` and commit it)")
        problems = differences(project, old)
        if problems:
            raise LockError(
                f"{lock_path.name} does not satisfy {project.path.name} (--frozen never re-resolves: run "
                "`extism-plugin install` and commit the lock):\n  " + "\n  ".join(problems)
            )
        plan = [(p.name, p.version, p.registry) for p in old.plugins.values()]  # OCI ones: by their digest
    else:
        unknown = sorted(set(upgrade) - {UPGRADE_ALL} - set(project.plugins) - set(old.plugins if old else ()))
        if unknown:
            raise LockError(f"--upgrade {unknown[0]}: neither {project.path.name} nor {lock_path.name} has it")
        locked: dict[str, str] = {}
        if old is not None and UPGRADE_ALL not in upgrade:
            for name, entry in old.plugins.items():
                if name in project.plugins and project.plugins[name].oci is not None:
                    continue
                explicit = project.registries[project.plugins[name].registry].url if name in project.plugins else None
                if name not in upgrade and entry.registry == (explicit or entry.registry):
                    locked[name] = entry.version
        source = RegistrySource(project, client_for.for_ref)
        resolver = Resolver(source, locked=locked, root=project.path.name)
        chosen = resolver.resolve({n: w.range for n, w in project.plugins.items() if w.oci is None})
        plan = [(n, str(c.version), source.routes[n].url) for n, c in chosen.items()]
        plan += [(n, "", w.oci) for n, w in project.plugins.items() if w.oci is not None]

    plugins: list[Installed] = []
    keys: dict[str, str] = {}
    warnings: list[str] = []
    unreachable: dict[str, str] = {}
    for name, version, url in sorted(plan):
        client: RegistryClient | None = None
        if url.startswith("oci://"):
            fetched, pem, registry = fetch_oci(name, url, cache_root, trusted_keys)
        else:
            client = client_for(url, offline=True if url in unreachable else None)
            try:
                fetched = client.fetch(name, version)
            except FetchError as exc:
                if not frozen or client.offline:
                    raise
                # --frozen needs no registry: the lock pins every hash, and the cache holds what it pinned
                unreachable.setdefault(url, str(exc))
                client = client_for(url, offline=True)
                fetched = client.fetch(name, version)
            pem = client.index(name).keys[fetched.info.key_id]
            registry = client.url
        info = fetched.info
        entry = LockedPlugin(
            name,
            info.version,
            registry,
            info.sha256,
            info.plugin_json_sha256,
            info.sig_sha256,
            info.key_id,
            dict(info.dependencies),
            PermissionSet.from_manifest(fetched.manifest),
        )
        pinned = old.plugins.get(name) if old else None
        if pinned is not None and (pinned.version, pinned.registry) == (entry.version, entry.registry):
            _same_as_pinned(pinned, entry, lock_path.name)
        change = None
        if pinned is not None and pinned.permissions is not None and entry.permissions is not None:
            if client is not None:
                _baseline_is_signed(client, pinned, lock_path.name)
            change = permission_diff(pinned.permissions, entry.permissions)
            change = None if change.empty else change
        keys[info.key_id] = pem
        if info.yanked:
            warnings.append(
                f"{name} {version} is yanked; kept because {lock_path.name} pins it "
                f"(`extism-plugin install --upgrade {name}` moves off it)"
            )
        if info.deprecated:
            warnings.append(f"{name} {version} is deprecated: {info.deprecated}")
        # an OCI registry publishes no advisories: only a static registry's signed index has them
        affecting = tuple(a for a in client.advisories(name) if a.affects(info.version)) if client else ()
        plugins.append(Installed(entry, fetched, name in project.plugins, affecting, change))
    _permission_gate(project, old, plugins, accept_permissions, warnings)
    chosen = {p.locked.name: p.locked for p in plugins}
    for p in plugins:
        for adv in p.advisories:
            command = fix_command(p.locked.name, adv, requirements(project, chosen, p.locked.name))
            warnings.append(warning_text(p.locked.name, p.locked.version, adv, command))
    for why in unreachable.values():
        warnings.append(f"{why}; installed what {lock_path.name} pins from the cache instead (verified)")
    for c in clients.values():
        if c.offline and c.stale:
            warnings.append(
                f"registry {c.url}: the cached metadata has expired (used as is, offline: run the "
                "command online to see newer versions, yanks and deprecations)"
            )
    downloaded = client_for.blobs_downloaded
    return Installation(
        project,
        Lockfile({p.locked.name: p.locked for p in plugins}),
        plugins,
        cache_root,
        lock_path.read_bytes() if old is not None else None,
        frozen,
        downloaded,
        warnings,
        keys,
        offline,
    )


def requirements(project: Project, locked: Mapping[str, LockedPlugin], name: str) -> list[tuple[str, str]]:
    """Who constrains `name` and how: extism.yaml's range, and each locked plugin's dependency on it."""
    out = [("extism.yaml", project.plugins[name].spec)] if name in project.plugins else []
    out += [(n, p.dependencies[name]) for n, p in sorted(locked.items()) if name in p.dependencies]
    return out


def _permission_gate(
    project: Project, old: Lockfile | None, plugins: list[Installed], accept: bool, warnings: list[str]
) -> None:
    """Stop when a plugin's new version asks for more than the locked one and the grants do not cover it."""
    grants = grants_from_project(project.grants, project.path.name)
    refused = []
    for p in plugins:
        change = p.permission_change
        if change is None:
            continue
        before = old.plugins[p.locked.name].version if old else "?"
        what = f"{p.locked.name} {before} → {p.locked.version}"
        if not change.widened:
            warnings.append(f"{what} asks for less: {'; '.join(change.lines())}")
            continue
        left = uncovered(change, grant_for(grants, p.locked.name))
        if left.empty:
            warnings.append(
                f"{what} asks for more, already granted in {project.path.name}: {'; '.join(change.lines())}"
            )
        elif accept:
            warnings.append(f"{what} asks for more, accepted (--accept-permissions): {'; '.join(left.lines())}")
        else:
            refused.append((p.locked.name, what, left))
    if refused:
        lines = []
        for name, what, left in refused:
            lines.append(
                f"{what} asks for more than {project.lock_path.name} records (not granted in {project.path.name}):"
            )
            lines += [f"    {line}" for line in left.lines()]
            hosts_etc = PermissionDiff(left.added, {}, {k: v for k, v in left.changed.items() if k != "wasi"})
            if not hosts_etc.empty:
                lines.append(
                    f'  to allow it, add to grants."{name}" in {project.path.name} '
                    f"(beside what it already grants): {grant_snippet(hosts_etc)}"
                )
            if "wasi" in left.changed:
                lines.append("  WASI cannot be granted in extism.yaml: only --accept-permissions allows it")
        raise PermissionChangeError(
            "permission change needs your consent; nothing was installed or written:\n  "
            + "\n  ".join(lines)
            + "\n  or re-run with --accept-permissions to accept it as shown"
        )


def _baseline_is_signed(client: RegistryClient, pinned: LockedPlugin, lock_name: str) -> None:
    """The gate compares against the lock's record of the locked version: that record must be what the
    registry's signed index says that version asks for, or widening it by hand would silence the gate."""
    if pinned.registry != client.url or pinned.permissions is None:
        return
    signed = client.index(pinned.name).get(pinned.version)
    if signed is None or signed.wasi is None:
        return  # no longer listed, or published before the index recorded WASI: the lock is all there is
    if signed.permission_set().digest != pinned.permissions.digest:
        raise IntegrityError(
            f"{pinned.name} {pinned.version}: {lock_name} records other permissions than the registry's signed "
            f"index for that version (edited by hand?); refusing to compare a new version against it (remove "
            f"{pinned.name}'s `permissions` from {lock_name} and run `extism-plugin install` to record them again)"
        )


def fetch_oci(name: str, ref: str, cache_root: Path, trusted_keys: list[Any] | None) -> tuple[FetchedPlugin, str, str]:
    """Pull and verify an OCI artifact (registry_static.oci), check it is `name`, cache its files: the
    plugin, its author's public key (PEM) and the digest-pinned `oci://host/repo@sha256:…` to lock."""
    from plugin_format import signing
    from registry_static.oci import pull_plugin

    pulled = pull_plugin(ref, keys=trusted_keys)
    if pulled.name != name:
        raise IntegrityError(f"{ref}: extism.yaml lists it as {name} but it is signed as {pulled.name}")
    doc = pulled.manifest
    if doc.get("dependencies"):
        raise ProjectError(
            f"{ref}: {name} depends on {', '.join(sorted(doc['dependencies']))}; dependencies resolve through a "
            "static registry, so install it from one (an OCI artifact must stand alone)"
        )
    paths = [cache.store_blob(data, cache_root) for data in (pulled.wasm, pulled.plugin_json, pulled.sig)]
    info = VersionInfo(
        name=name,
        version=pulled.version,
        yanked=False,
        deprecated=None,
        sha256=sha256_hex(pulled.wasm),
        size=len(pulled.wasm),
        dependencies={},
        exports=list(doc.get("exports") or []),
        permissions=dict(doc.get("permissions") or {}),
        key_id=pulled.key_id,
        published="",
        description=str(doc.get("description", "")),
        language=str(doc.get("language", "")),
        license=str(doc.get("license", "")),
        plugin_json_sha256=sha256_hex(pulled.plugin_json),
        sig_sha256=sha256_hex(pulled.sig),
        wasi=bool(doc.get("wasi", False)),
    )
    fetched = FetchedPlugin(
        name, pulled.version, pulled.wasm, pulled.plugin_json, pulled.sig, doc, paths[0], info, pulled.key
    )
    return fetched, signing.public_pem(pulled.key), pulled.pinned


def _same_as_pinned(pinned: LockedPlugin, got: LockedPlugin, lock_name: str) -> None:
    """A published version never changes: the registry must serve exactly what the lock pinned."""
    mine, theirs = pinned.to_dict(), got.to_dict()
    keys = ["wasm_sha256", "plugin_json_sha256", "sig_sha256", "key_id", "dependencies"]
    if "permissions" in mine:
        keys.append("permissions")  # recorded from the signed plugin.json: the same version asks the same
    for key in keys:
        if mine[key] != theirs.get(key):
            raise IntegrityError(
                f"{got.name} {got.version}: {lock_name} pins {key} {_short(mine[key])} but {got.registry} now "
                f"serves {_short(theirs[key])}; a published version must never change, so this install is "
                f"refused (if the registry was rebuilt on purpose, remove {got.name} from {lock_name})"
            )


def _short(value: Any) -> str:
    return f"{value[:16]}…" if isinstance(value, str) and len(value) > 16 else str(value)
