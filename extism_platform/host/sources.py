"""Where plugins come from: a `dist/` directory, installed wheels, a registry, or a project's extism.lock.

Each source yields verified `Artifact`s: the `.sig` envelope is checked against the `.plugin.json`
and the wasm's sha256 (and against trusted keys when given) before anything is listed; the wasm
itself is compiled only on first use, and its bytes are pinned to the verified hash.

Every source also links each plugin's `dependencies` (`link`): a dependency is taken from the same
source and verified the same way — from extism.lock the exact locked version, from a registry the
highest matching version it serves (TUF-verified, signed by its scope's key), from a `--dist`
directory (or `--with`) the highest matching build there — and a plugin whose dependency cannot be
found is refused when it is loaded, never on its first call.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extism_platform.host.runtime import Artifact, PluginInfo
from plugin_format import names
from plugin_format.artifact import sha256_hex, verify_bytes
from plugin_format.errors import ExtismPlatformError, LoadError, SemverError
from plugin_format.manifest import PluginManifest
from plugin_format.names import ENTRY_POINT_GROUP
from plugin_format.signing import known_public_keys

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from plugin_format.semver import Version


def _version_key(version: str) -> Version:
    """The version, or one below every real version when it does not parse (it never wins)."""
    from plugin_format.semver import Version  # noqa: PLC0415 - only when two builds of a name compete

    try:
        return Version.parse(version)
    except SemverError:
        return Version(0, 0, 0, ("",))


def _artifact(
    wasm: bytes,
    plugin_json: bytes,
    sig: bytes,
    *,
    keys: list[Ed25519PublicKey],
    allow_unsigned: bool,
    where: str,
    source: str,
    read_wasm: Any,
) -> Artifact:
    try:
        # No --trust-key: the signature still has to verify, against a key this machine knows.
        verified = verify_bytes(
            wasm,
            plugin_json,
            sig,
            keys=keys,
            require_signature=not allow_unsigned,
            where=where,
            known_keys=None if keys else known_public_keys(),
        )
    except ExtismPlatformError as exc:
        hint = "" if "unsigned" not in str(exc) else " (pass --allow-unsigned to run unsigned builds)"
        raise LoadError(f"{exc}{hint}") from None
    try:
        info = PluginInfo.from_plugin_json(verified.manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise LoadError(f"{where}.plugin.json: not a plugin manifest ({exc})") from None
    _check_names(info, where)
    return Artifact(
        info, verified.wasm_sha256, read_wasm, source, verified.signed, verified.trusted, tuple(verified.key_ids)
    )


_EXPORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _check_names(info: PluginInfo, where: str) -> None:
    """The names plugin.yaml's schema allows, checked again at load: a hand-made plugin.json with
    `rt_mixed` beside `@rt/mixed` would otherwise make the other plugin's tool names."""
    try:
        names.check(info.name, f"{where}.plugin.json name")
    except ExtismPlatformError as exc:
        raise LoadError(str(exc)) from None
    for exp in info.exports:
        if not isinstance(exp.name, str) or not _EXPORT_NAME.fullmatch(exp.name):
            raise LoadError(
                f"{where}.plugin.json: export {exp.name!r} of {info.name} is not an export name "
                "(letters, digits and '_', not starting with a digit); rebuild it from plugin.yaml"
            )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: {exc.strerror}") from None


def link(artifact: Artifact, pick: Callable[[str, str, Artifact], Artifact]) -> Artifact:
    """`artifact` with its whole dependency closure attached (`Artifact.deps`, one per name):
    `pick(name, range, wanted_by)` returns the verified artifact of one dependency or raises
    `LoadError`. A closure that leads back to the plugin itself is refused (a module cannot be
    linked into itself)."""
    closure: dict[str, Artifact] = {}
    todo = [artifact]
    while todo:
        wanting = todo.pop()
        for dep, spec in sorted(wanting.info.dependencies.items()):
            if dep == artifact.info.name:
                raise LoadError(f"plugin {artifact.info.name}: its dependency {wanting.info.name} needs it back")
            if dep in closure:
                _check_range(closure[dep], spec, wanting)
                continue
            try:
                names.module_name(dep, f"plugin {wanting.info.name}: dependency")
            except ExtismPlatformError as exc:
                raise LoadError(str(exc)) from None
            closure[dep] = pick(dep, spec, wanting)
            _check_range(closure[dep], spec, wanting)
            todo.append(closure[dep])
    if not closure:
        return artifact
    return dataclasses.replace(artifact, deps=tuple(closure[n] for n in sorted(closure)))


def _check_range(dep: Artifact, spec: str, wanting: Artifact) -> None:
    from plugin_format.semver import Range

    try:
        ok = Range.parse(spec).matches(dep.info.version)
    except SemverError:
        ok = False
    if not ok:
        raise LoadError(
            f"plugin {wanting.info.name} needs {dep.info.name} {spec}, but the one to link is "
            f"{dep.info.version} ({dep.source})"
        )


def link_from(pool: Iterable[Artifact], where: str) -> Callable[[str, str, Artifact], Artifact]:
    """A `pick` for `link`: the highest version in `pool` that matches the range."""
    by_name: dict[str, list[Artifact]] = {}
    for a in pool:
        by_name.setdefault(a.info.name, []).append(a)

    def pick(name: str, spec: str, wanting: Artifact) -> Artifact:
        from plugin_format.semver import Range  # noqa: PLC0415 - only for plugins with dependencies

        try:
            rng = Range.parse(spec)
        except SemverError as exc:
            raise LoadError(f"plugin {wanting.info.name}: dependency {name} {spec!r}: {exc}") from None
        fits = [a for a in by_name.get(name, ()) if rng.matches(a.info.version)]
        if not fits:
            have = ", ".join(sorted(a.info.version for a in by_name.get(name, ()))) or "none"
            raise LoadError(
                f"plugin {wanting.info.name} needs {name} {spec}, which {where} does not have (versions "
                f"there: {have}); build or copy it there"
            )
        return max(fits, key=lambda a: _version_key(a.info.version))

    return pick


def _dist_artifacts(
    directory: Path, *, keys: list[Ed25519PublicKey], allow_unsigned: bool, keep_wasm: bool, what: str
) -> list[Artifact]:
    """Every build (every version) in a build output directory, verified."""
    if not directory.is_dir():
        raise LoadError(f"{what} {directory}: not a directory (build plugins with `extism-plugin build`)")
    out = []
    for json_path in sorted(directory.glob("*.plugin.json")):
        stem = json_path.name[: -len(".plugin.json")]
        out.append(_dist_artifact(directory, stem, keys=keys, allow_unsigned=allow_unsigned, keep_wasm=keep_wasm))
    if not out:
        raise LoadError(f"{what} {directory}: no *.plugin.json found (build plugins with `extism-plugin build`)")
    return out


def _dist_artifact(
    directory: Path, stem: str, *, keys: list[Ed25519PublicKey], allow_unsigned: bool, keep_wasm: bool
) -> Artifact:
    wasm_path, sig_path = directory / f"{stem}.wasm", directory / f"{stem}.sig"
    wasm = _read(wasm_path)
    return _artifact(
        wasm,
        _read(directory / f"{stem}.plugin.json"),
        _read(sig_path),
        keys=keys,
        allow_unsigned=allow_unsigned,
        where=str(directory / stem),
        source=f"dist:{wasm_path}",
        read_wasm=(lambda w=wasm: w) if keep_wasm else (lambda p=wasm_path: p.read_bytes()),
    )


def from_dist(
    directory: Path,
    *,
    keys: list[Ed25519PublicKey] | None = None,
    allow_unsigned: bool = False,
    keep_wasm: bool = False,
) -> list[Artifact]:
    """Every plugin in a build output directory (the highest version of each name), each linked
    with its dependencies from the same directory.

    The wasm is read again when first compiled, unless `keep_wasm`: then the verified bytes are
    kept in memory (for `--watch`, where the file may be rebuilt or tampered with after it was
    verified and the plugin must keep serving what was verified)."""
    every = _dist_artifacts(
        directory, keys=keys or [], allow_unsigned=allow_unsigned, keep_wasm=keep_wasm, what="--dist"
    )
    pick = link_from(every, f"--dist {directory}")
    return [link(a, pick) for a in _highest(every)]


def _highest(artifacts: Iterable[Artifact]) -> list[Artifact]:
    """The highest version of each name."""
    found: dict[str, Artifact] = {}
    for art in artifacts:
        prev = found.get(art.info.name)
        if prev is None or _version_key(art.info.version) > _version_key(prev.info.version):
            found[art.info.name] = art
    return list(found.values())


def linked_builds(
    paths: Iterable[Path], *, keys: list[Ed25519PublicKey] | None = None, allow_unsigned: bool = False
) -> list[Artifact]:
    """`--with PATH` of `extism-plugin call`/`test`: builds to link a project with, each a `dist/`
    directory or one `<stem>.wasm` beside its `.plugin.json` and `.sig`; verified like `--dist`."""
    out: list[Artifact] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(
                _dist_artifacts(path, keys=keys or [], allow_unsigned=allow_unsigned, keep_wasm=True, what="--with")
            )
        elif path.suffix == ".wasm":
            out.append(
                _dist_artifact(path.parent, path.stem, keys=keys or [], allow_unsigned=allow_unsigned, keep_wasm=True)
            )
        else:
            raise LoadError(f"--with {path}: give a dist/ directory or a built .wasm (with its .plugin.json and .sig)")
    return out


def from_installed(
    *, keys: list[Ed25519PublicKey] | None = None, allow_unsigned: bool = False, names: Iterable[str] | None = None
) -> list[Artifact]:
    """Plugins shipped in installed wheels (entry point group `extism.plugins`)."""
    wanted = set(names or ())
    out: list[Artifact] = []
    every: list[Artifact] = []  # every installed build: the plugins' dependencies come from these
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            root = Path(str(resources.files(ep.value)))
        except (ModuleNotFoundError, TypeError) as exc:
            if wanted and ep.name not in wanted:
                continue
            raise LoadError(
                f"installed plugin {ep.name}: entry point {ep.value!r} does not name a package "
                f"({exc}); reinstall its wheel"
            ) from None
        source = f"wheel:{ep.dist.name if ep.dist else ep.value}"
        arts = [
            dataclasses.replace(a, source=source)
            for a in _dist_artifacts(root, keys=keys or [], allow_unsigned=allow_unsigned, keep_wasm=False, what=source)
        ]
        every.extend(arts)
        if not wanted or ep.name in wanted:
            out.extend(_highest(arts))
    pick = link_from(every, "the installed wheels")
    return [link(a, pick) for a in out]


def parse_spec(spec: str) -> tuple[str, str]:
    """`NAME@RANGE` (the range after the last '@' that is not the scope's) → (name, range)."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1 :] or "*"
    return spec, "*"


def from_registry(
    url: str,
    specs: Iterable[str],
    *,
    cache_dir: Path | None = None,
    token: str | None = None,
    keys: list[Ed25519PublicKey] | None = None,
    allow_unsigned: bool = False,
) -> list[Artifact]:
    """The highest non-yanked version matching each `NAME@RANGE`, fetched (and verified) by the
    registry client, cached."""
    from registry_static.client import RegistryClient  # lazy: only this source needs TUF
    from registry_static.redact import redact_url

    try:
        client = RegistryClient(url, cache_dir=cache_dir, token=token)
    except ExtismPlatformError as exc:
        raise LoadError(f"registry {redact_url(url)}: {exc}") from None
    url = client.url  # without credentials: this URL is shown, audited and listed

    def get(name: str, rng: str, spec: str) -> Artifact:
        try:
            version = client.resolve(name, rng).version
            fetched = client.fetch(name, version)
        except ExtismPlatformError as exc:
            raise LoadError(f"registry {url}: {spec}: {exc}") from None
        wasm = fetched.wasm
        return _artifact(
            wasm,
            fetched.plugin_json,
            fetched.sig,
            # the registry vouches for its scope's author keys (TUF), as --trust-key does
            keys=[*(keys or []), *([fetched.author_key] if fetched.author_key is not None else [])],
            allow_unsigned=allow_unsigned,
            where=f"{url} {name}@{version}",
            source=f"registry:{url} {name}@{version}",
            read_wasm=lambda w=wasm: w,
        )

    def pick(name: str, rng: str, wanting: Artifact) -> Artifact:
        return get(name, rng, f"{wanting.info.name} needs {name}@{rng}")

    out = []
    for spec in specs:
        name, rng = parse_spec(spec)
        out.append(link(get(name, rng, spec), pick))
    return out


def from_oci(refs: Iterable[str], *, keys: list[Ed25519PublicKey] | None = None) -> list[Artifact]:
    """Each `oci://host/repo:TAG` or `…@sha256:DIGEST`, pulled and verified (every layer against the
    manifest, the DSSE signature against `keys`, else the keys this machine knows). An OCI registry
    vouches for no key, so an artifact is never loaded unsigned or signed by an unknown key."""
    from registry_static.oci import pull_plugin  # lazy: only this source needs oras

    out = []
    for ref in refs:
        try:
            pulled = pull_plugin(ref, keys=keys or None)
        except ExtismPlatformError as exc:
            raise LoadError(str(exc)) from None
        wasm = pulled.wasm
        out.append(
            _artifact(
                wasm,
                pulled.plugin_json,
                pulled.sig,
                keys=[pulled.key],
                allow_unsigned=False,
                where=pulled.pinned,
                source=f"oci:{pulled.pinned}",
                read_wasm=lambda w=wasm: w,
            )
        )
    return out


def from_lock(lock_path: Path, *, cache_dir: Path | None = None) -> list[Artifact]:
    """Exactly the plugins extism.lock pins, read from the content-addressed cache without contacting a
    registry, and verified again: each blob against the lock's sha256, the author's signature against
    the cached key whose id the lock names. Each is linked with the locked versions of its
    dependencies."""
    from registry_static.lockfile import read_lock  # lazy: only this source needs the registry side

    try:
        lock = read_lock(lock_path)
    except ExtismPlatformError as exc:
        raise LoadError(str(exc)) from None
    if lock is None:
        raise LoadError(f"{lock_path}: not found (run `extism-plugin install` first)")
    arts = {n: locked_artifact(e, lock_path.name, cache_dir=cache_dir) for n, e in sorted(lock.plugins.items())}
    return link_exact(arts, lock_path.name)


def link_exact(artifacts: dict[str, Artifact], where: str) -> list[Artifact]:
    """Each artifact linked with the one artifact of each dependency's name in `artifacts` (a lock
    or an installation pins exactly one version per name)."""

    def pick(name: str, spec: str, wanting: Artifact) -> Artifact:
        if name not in artifacts:
            raise LoadError(
                f"{where}: {wanting.info.name} needs {name} {spec}, which is not installed "
                "(run `extism-plugin install`)"
            )
        return artifacts[name]

    return [link(a, pick) for a in artifacts.values()]


def locked_artifact(entry: Any, lock_name: str, *, cache_dir: Path | None = None) -> Artifact:
    """One extism.lock entry (`LockedPlugin`), from the cache, verified against the locked hashes
    and the cached author key (not linked: see `link_exact`)."""
    from registry_static import cache

    name = entry.name
    what = f"{lock_name}: {name} {entry.version}"
    try:
        wasm = cache.read_blob(entry.wasm_sha256, f"{what} wasm", cache_dir)
        plugin_json = cache.read_blob(entry.plugin_json_sha256, f"{what} plugin.json", cache_dir)
        sig = cache.read_blob(entry.sig_sha256, f"{what} signature", cache_dir)
        key = cache.read_key(entry.key_id, cache_dir)
    except ExtismPlatformError as exc:
        raise LoadError(str(exc)) from None
    art = _artifact(
        wasm,
        plugin_json,
        sig,
        keys=[key],
        allow_unsigned=False,
        where=f"{name}@{entry.version}",
        source=f"lock:{entry.registry} {name}@{entry.version}",
        read_wasm=lambda w=wasm: w,
    )
    if (art.info.name, art.info.version) != (name, entry.version):
        raise LoadError(f"{what}: the cached artifact is {art.info.name}@{art.info.version}")
    return art


def from_fetched(fetched: Any, registry: str) -> Artifact:
    """A plugin the registry client fetched (`FetchedPlugin`, being installed), verified again as
    a host source does: against the scope's author key the registry vouches for."""
    wasm = fetched.wasm
    return _artifact(
        wasm,
        fetched.plugin_json,
        fetched.sig,
        keys=[fetched.author_key] if fetched.author_key is not None else [],
        allow_unsigned=False,
        where=f"{registry} {fetched.name}@{fetched.version}",
        source=f"registry:{registry} {fetched.name}@{fetched.version}",
        read_wasm=lambda w=wasm: w,
    )


def describe(artifact: Artifact) -> dict[str, Any]:
    """For listings: name, version, sha256, source, signature status, requested permissions."""
    return {
        "name": artifact.info.name,
        "version": artifact.info.version,
        "sha256": artifact.sha256,
        "source": artifact.source,
        "signed": artifact.signed,
        "trusted": artifact.trusted,
        "requested": artifact.info.permissions.to_dict(),
        "exports": [e.name for e in artifact.info.exports],
    }


def _local(doc: dict[str, Any], wasm: bytes, source: str) -> Artifact:
    """An unsigned artifact from bytes in hand, for the author's own runs."""
    return Artifact(PluginInfo.from_plugin_json(doc), sha256_hex(wasm), lambda: wasm, source)


def from_project(manifest: PluginManifest, wasm: bytes, source: str, linked: Iterable[Artifact] = ()) -> Artifact:
    """A plugin the author just built (unsigned, from plugin.yaml): for `extism-plugin test` and
    `call`, which run it on the same host as the MCP server. Its dependencies are linked from
    `linked` (verified builds, `linked_builds`)."""
    pool = list(linked)
    return link(_local(manifest.to_dict(), wasm, source), link_from(pool, "--with"))


def from_module(wasm: bytes, *, name: str, permissions: dict[str, Any], wasi: bool, source: str) -> Artifact:
    """A bare module with no plugin.json (`extism-plugin call x.wasm`): the caller states the
    permissions (defaults filled in as for a plugin.yaml that asks for none)."""
    return _local(
        {"name": name, "version": "0.0.0", "exports": [], "permissions": permissions, "wasi": wasi}, wasm, source
    )
