"""The scan of a module against its plugin.json: at publish (registry side) and at install (client side).

Checks, each problem one line:
- the module validates (wasmtime's validator: the same rules compiling it applies);
- its imports match the permissions it declares: `extism:host/user` functions only those
  `permissions.host_functions` names, WASI only with `wasi: true`, no module the host does not provide
  (`plugin_format.wasm.module_problems`, the build's own check);
- every export the manifest declares exists, with Extism's `() -> i32` signature. What is declared is
  read from the manifest (`declared_exports`), so a manifest field naming more exports (hooks, …) is
  checked by adding it there;
- limits: the module's size (`max_wasm_bytes`), the memory it declares (`permissions.memory_mib` at most
  `max_memory_mib`) and the memory it needs to start (its initial pages within its own `memory_mib`).

HTTP is a warning, not a refusal: interpreter runtimes (Python, Ruby, JavaScript) link the whole kernel,
so importing `http_request` without `permissions.hosts` is common and harmless — the host denies every
host the manifest does not declare and the user does not grant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import ModuleError
from plugin_format.host_functions import ENV_MODULE
from plugin_format.manifest import PluginManifest, exports_from_list, permissions_from_dict
from plugin_format.wasm import inspect_module, module_problems

PAGE = 64 * 1024
DEFAULT_MAX_WASM_BYTES = 64 * 1024 * 1024  # an interpreter plugin (CPython, Ruby) is 10–30 MB
DEFAULT_MAX_MEMORY_MIB = 1024
LIMIT_KEYS = ("max_wasm_bytes", "max_memory_mib")


@dataclass(frozen=True)
class ScanLimits:
    """A registry's limits (registry.json `scan: {max_wasm_bytes: …, max_memory_mib: …}`)."""

    max_wasm_bytes: int = DEFAULT_MAX_WASM_BYTES
    max_memory_mib: int = DEFAULT_MAX_MEMORY_MIB

    @classmethod
    def from_config(cls, doc: Any, where: str) -> ScanLimits:
        """`doc` is registry.json's `scan` mapping (or None: the defaults); errors name `where`."""
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise ModuleError(f"{where}: scan: expected a mapping with {', '.join(LIMIT_KEYS)}")
        unknown = sorted(set(doc) - set(LIMIT_KEYS))
        if unknown:
            raise ModuleError(
                f"{where}: scan: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(LIMIT_KEYS)})"
            )
        for key in LIMIT_KEYS:
            if key in doc and (not isinstance(doc[key], int) or isinstance(doc[key], bool) or doc[key] < 1):
                raise ModuleError(f"{where}: scan.{key}: expected a positive integer")
        return cls(**{k: doc[k] for k in LIMIT_KEYS if k in doc})


@dataclass(frozen=True)
class ScanReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def manifest_from_plugin_json(doc: dict[str, Any], where: str) -> PluginManifest:
    """The parts of a resolved plugin.json (the signed manifest) that the module is checked against."""
    return PluginManifest(
        path=Path(where),
        name=str(doc.get("name", "")),
        version=str(doc.get("version", "")),
        language=str(doc.get("language", "")),
        exports=exports_from_list(doc.get("exports")),
        wasi=bool(doc.get("wasi", False)),
        permissions=permissions_from_dict(doc.get("permissions")),
        dependencies=dict(doc.get("dependencies") or {}),
        hooks=dict(doc.get("hooks") or {}),
    )


def declared_exports(manifest: PluginManifest) -> list[str]:
    """Every export name the manifest says the module has."""
    return [e.name for e in manifest.exports]


def scan_module(wasm: bytes, plugin_json: dict[str, Any], *, limits: ScanLimits | None, where: str) -> ScanReport:
    """Scan `wasm` against its (verified) plugin.json; `limits` None skips the registry's size limits."""
    problems: list[str] = []
    warnings: list[str] = []
    if limits is not None and len(wasm) > limits.max_wasm_bytes:
        problems.append(
            f"the module is {len(wasm):,} bytes; this registry accepts at most {limits.max_wasm_bytes:,} "
            "(registry.json scan.max_wasm_bytes)"
        )
    try:
        info = inspect_module(wasm)
    except ValueError as exc:
        return ScanReport([*problems, str(exc)], warnings)
    manifest = manifest_from_plugin_json(plugin_json, where)
    problems += module_problems(info, manifest)
    declared_mib = manifest.permissions.memory_mib
    if limits is not None and declared_mib > limits.max_memory_mib:
        problems.append(
            f"permissions.memory_mib is {declared_mib}; this registry accepts at most {limits.max_memory_mib} "
            "(registry.json scan.max_memory_mib)"
        )
    start_mib = info.memory_pages * PAGE / (1024 * 1024)
    if start_mib > declared_mib:
        problems.append(
            f"the module's memory starts at {info.memory_pages} pages ({start_mib:g} MiB), more than its "
            f"permissions.memory_mib ({declared_mib}): raise memory_mib or shrink the initial memory"
        )
    if (ENV_MODULE, "http_request") in info.func_imports and not manifest.permissions.hosts:
        warnings.append(
            "the module imports http_request but permissions.hosts is empty: every HTTP request will be denied"
        )
    return ScanReport(problems, warnings)
