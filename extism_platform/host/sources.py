"""Where plugins come from: a `dist/` directory, installed wheels, a registry, or a project's extism.lock.

Each source yields verified `Artifact`s: the `.sig` envelope is checked against the `.plugin.json`
and the wasm's sha256 (and against trusted keys when given) before anything is listed; the wasm
itself is compiled only on first use, and its bytes are pinned to the verified hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from extism_platform.host.runtime import Artifact, PluginInfo
from plugin_format import names
from plugin_format.artifact import sha256_hex, verify_bytes
from plugin_format.errors import ExtismPlatformError, LoadError, SemverError
from plugin_format.manifest import PluginManifest
from plugin_format.names import ENTRY_POINT_GROUP
from plugin_format.semver import Version
from plugin_format.signing import known_public_keys

_LOWEST = Version(0, 0, 0, ("",))  # below every real version: an unparsable one never wins


def _version_key(version: str) -> Version:
    try:
        return Version.parse(version)
    except SemverError:
        return _LOWEST


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


def from_dist(
    directory: Path,
    *,
    keys: list[Ed25519PublicKey] | None = None,
    allow_unsigned: bool = False,
    keep_wasm: bool = False,
) -> list[Artifact]:
    """Every plugin in a build output directory (the highest version of each name).

    The wasm is read again when first compiled, unless `keep_wasm`: then the verified bytes are
    kept in memory (for `--watch`, where the file may be rebuilt or tampered with after it was
    verified and the plugin must keep serving what was verified)."""
    if not directory.is_dir():
        raise LoadError(f"--dist {directory}: not a directory (build plugins with `extism-plugin build`)")
    found: dict[str, Artifact] = {}
    for json_path in sorted(directory.glob("*.plugin.json")):
        stem = json_path.name[: -len(".plugin.json")]
        wasm_path, sig_path = directory / f"{stem}.wasm", directory / f"{stem}.sig"
        wasm = _read(wasm_path)
        art = _artifact(
            wasm,
            _read(json_path),
            _read(sig_path),
            keys=keys or [],
            allow_unsigned=allow_unsigned,
            where=str(directory / stem),
            source=f"dist:{wasm_path}",
            read_wasm=(lambda w=wasm: w) if keep_wasm else (lambda p=wasm_path: p.read_bytes()),
        )
        prev = found.get(art.info.name)
        if prev is None or _version_key(art.info.version) > _version_key(prev.info.version):
            found[art.info.name] = art
    if not found:
        raise LoadError(f"--dist {directory}: no *.plugin.json found (build plugins with `extism-plugin build`)")
    return list(found.values())


def from_installed(
    *, keys: list[Ed25519PublicKey] | None = None, allow_unsigned: bool = False, names: Iterable[str] | None = None
) -> list[Artifact]:
    """Plugins shipped in installed wheels (entry point group `extism.plugins`)."""
    wanted = set(names or ())
    out: list[Artifact] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted and ep.name not in wanted:
            continue
        try:
            root = Path(str(resources.files(ep.value)))
        except (ModuleNotFoundError, TypeError) as exc:
            raise LoadError(
                f"installed plugin {ep.name}: entry point {ep.value!r} does not name a package "
                f"({exc}); reinstall its wheel"
            ) from None
        for art in from_dist(root, keys=keys, allow_unsigned=allow_unsigned):
            out.append(
                Artifact(
                    art.info,
                    art.sha256,
                    art.read_wasm,
                    f"wheel:{ep.dist.name if ep.dist else ep.value}",
                    art.signed,
                    art.trusted,
                    art.key_ids,
                )
            )
    return out


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
    out = []
    for spec in specs:
        name, rng = parse_spec(spec)
        try:
            version = client.resolve(name, rng).version
            fetched = client.fetch(name, version)
        except ExtismPlatformError as exc:
            raise LoadError(f"registry {url}: {spec}: {exc}") from None
        wasm = fetched.wasm
        out.append(
            _artifact(
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
        )
    return out


def from_lock(lock_path: Path, *, cache_dir: Path | None = None) -> list[Artifact]:
    """Exactly the plugins extism.lock pins, read from the content-addressed cache without contacting a
    registry, and verified again: each blob against the lock's sha256, the author's signature against
    the cached key whose id the lock names."""
    from registry_static import cache  # lazy: only this source needs the registry side
    from registry_static.lockfile import read_lock

    try:
        lock = read_lock(lock_path)
    except ExtismPlatformError as exc:
        raise LoadError(str(exc)) from None
    if lock is None:
        raise LoadError(f"{lock_path}: not found (run `extism-plugin install` first)")
    out = []
    for name, entry in sorted(lock.plugins.items()):
        what = f"{lock_path.name}: {name} {entry.version}"
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
        out.append(art)
    return out


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


def from_project(manifest: PluginManifest, wasm: bytes, source: str) -> Artifact:
    """A plugin the author just built (unsigned, from plugin.yaml): for `extism-plugin test` and
    `call`, which run it on the same host as the MCP server."""
    return _local(manifest.to_dict(), wasm, source)


def from_module(wasm: bytes, *, name: str, permissions: dict[str, Any], wasi: bool, source: str) -> Artifact:
    """A bare module with no plugin.json (`extism-plugin call x.wasm`): the caller states the
    permissions (defaults filled in as for a plugin.yaml that asks for none)."""
    return _local(
        {"name": name, "version": "0.0.0", "exports": [], "permissions": permissions, "wasi": wasi}, wasm, source
    )
