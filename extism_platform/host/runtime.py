"""The Extism host: loaded plugins, their effective permissions, compiled modules, instance pools.

`Host.call(plugin, export, input)` is safe to call from many threads: each call borrows its own
instance from the plugin's pool (an instance is never shared by two calls in flight) and an
instance that trapped, timed out or was stopped by a denial is discarded, never reused.

Every call in flight has a `CompiledPlugin` of its own, and so its own wasmtime engine: Extism
stops a call (a timeout, or `cancel_handle().cancel()`) by bumping the *engine's* epoch, which
interrupts every store of that engine. With one engine shared by a plugin's instances, one denied
or timed-out call killed the plugin's other calls in flight (issue 15, item 4). The pool therefore
holds compiled modules, each with a fresh, never-called instance on it: every call runs on a new
instance, so memory, globals and Extism vars never pass from one call (one client) to the next
(item 19). Freeing the used instance and instantiating the next one happen after the call, on the
recycler's thread (`_Recycler`), not while a client waits.

Instantiating runs a module's start function, which no timeout covers (Extism arms the timer
only for calls; some toolchains, e.g. TypeScript's, emit one): such a module is instantiated on a
watched thread, bounded by timeout_ms (see `LoadedPlugin._instantiate`).

The plugin set can be replaced while calls run (`extism-mcp-server --watch`): `Host.plan` builds the
next set from freshly verified artifacts (keeping the `LoadedPlugin` — compiled module and pool — of
every plugin whose artifact and permissions did not change) without touching the current one, and
`Host.swap` installs it in one assignment. A call holds the `LoadedPlugin` it started with, so
in-flight calls finish on the old instances, which are dropped with it.

Linked dependencies (plugin.yaml `dependencies:`): a plugin's `Artifact.deps` are verified
artifacts too (the sources verify hash and signature exactly as for the plugin), and each becomes
one more module of the same Extism manifest, named after the dependency (`names.module_name`), so
the plugin's imports from module `@acme/units` are that plugin's exports. Before anything is
instantiated every module is read again and held to its verified sha256 and every import between
them is checked (the export exists, with the same signature). A linked module runs inside the
plugin that links it: with that plugin's grants, its kv namespace and its timeout; only `main`'s
exports are callable.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from extism_platform.audit import AuditLog
from extism_platform.grants import Effective, Grant, Hints, effective, grant_for
from extism_platform.host.cancel import after_reply
from extism_platform.host.http import HttpSettings
from extism_platform.host.kv import KV, KVStore
from plugin_format import names
from plugin_format.errors import LoadError, PluginCallError
from plugin_format.host_functions import ENV_MODULE
from plugin_format.manifest import Export, Permissions, exports_from_list, permissions_from_dict

if TYPE_CHECKING:
    from plugin_format.extism_sdk import CompiledPlugin, extism
    from plugin_format.wasm import ModuleInfo

log = logging.getLogger("extism_platform.host")

POOL_MAX_IDLE = 8
#: The largest result a call may return unless a grant says otherwise (`max_output_kib`):
#: a result is copied into Python, JSON-escaped and sent, so a plugin's whole memory as one result
#: would cost several times its size per call.
DEFAULT_MAX_OUTPUT_BYTES = 4 << 20
_ERROR_PREVIEW = 2000


@functools.cache
def _sdk() -> SimpleNamespace:
    """The Extism SDK and the host functions registered with it, imported on the first compile:
    tool lists come from manifests, and loading libextism (cffi and a 30 MB library) is a large
    part of a server's start-up that answering `tools/list` does not need."""
    from extism_platform.host import functions as hostfns  # noqa: PLC0415
    from plugin_format.extism_sdk import CompiledPlugin, extism  # noqa: PLC0415

    return SimpleNamespace(extism=extism, CompiledPlugin=CompiledPlugin, hostfns=hostfns)


@dataclass(frozen=True)
class PluginInfo:
    """The parts of a resolved plugin.json the host needs (from a verified artifact)."""

    name: str
    version: str
    description: str
    exports: tuple[Export, ...]
    permissions: Permissions
    wasi: bool
    doc: dict[str, Any]
    #: name -> range of the plugins linked in as named modules (plugin.yaml `dependencies:`)
    dependencies: dict[str, str] = field(default_factory=dict)
    #: lifecycle hook -> export (plugin.yaml `hooks:`), run by the package manager only
    hooks: dict[str, str] = field(default_factory=dict)
    #: MCP icons, resources and prompts (plugin.yaml `icons:` / `resources:` / `prompts:`, as in plugin.json)
    icons: tuple[dict[str, Any], ...] = ()
    resources: tuple[dict[str, Any], ...] = ()
    resource_templates: tuple[dict[str, Any], ...] = ()
    prompts: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_plugin_json(cls, doc: dict[str, Any]) -> PluginInfo:
        return cls(
            name=doc["name"],
            version=str(doc["version"]),
            description=doc.get("description", ""),
            exports=exports_from_list(doc.get("exports")),
            permissions=permissions_from_dict(doc.get("permissions")),
            wasi=bool(doc.get("wasi", False)),
            doc=doc,
            dependencies=dict(doc.get("dependencies") or {}),
            hooks=dict(doc.get("hooks") or {}),
            icons=tuple(i for i in doc.get("icons") or () if isinstance(i, dict) and isinstance(i.get("src"), str)),
            resources=tuple(r for r in doc.get("resources") or () if isinstance(r, dict)),
            resource_templates=tuple(t for t in doc.get("resource_templates") or () if isinstance(t, dict)),
            prompts=tuple(p for p in doc.get("prompts") or () if isinstance(p, dict)),
        )


@dataclass(frozen=True)
class Artifact:
    """A verified plugin: its manifest, the sha256 its wasm must have, and how to read the wasm."""

    info: PluginInfo
    sha256: str
    read_wasm: Callable[[], bytes]
    source: str  # where it came from, for humans: "dist:/path", "registry:https://…", "wheel:pkg"
    signed: bool = False
    trusted: bool = False
    key_ids: tuple[str, ...] = ()
    #: the verified artifacts of every plugin linked in (the whole dependency closure, one per
    #: name, sorted by name), each loaded as the wasm module named after it (`names.module_name`)
    deps: tuple[Artifact, ...] = ()


def kv_namespace(name: str, key_id: str | None) -> str:
    """The kv namespace of plugin `name` signed by `key_id`: signer key id + name. An unsigned build
    (`key_id` None, or one whose signature was not checked against a key) gets a namespace of its
    own, so claiming another plugin's name does not reach that plugin's data."""
    return f"key:{key_id}/{name}" if key_id else f"unsigned/{name}"


@dataclass(frozen=True)
class PluginChanges:
    """What `Host.swap` changed, by plugin name."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.replaced or self.removed)

    def __str__(self) -> str:
        parts = [
            f"{sign}{n}"
            for sign, names in (("+", self.added), ("~", self.replaced), ("-", self.removed))
            for n in names
        ]
        return ", ".join(parts) or "no change"


@dataclass
class CallResult:
    output: bytes
    duration_ms: float


@dataclass(frozen=True)
class _CheckedModule:
    """A plugin's wasm after the load checks (hash, imports): the Extism manifest each call's own
    CompiledPlugin is made from, and whether instantiating it runs a start function."""

    manifest: dict[str, Any]
    start: bool


@dataclass
class LoadedPlugin:
    """A plugin the host can call. Compiled on first use, then instances are pooled."""

    artifact: Artifact
    effective: Effective
    _compile_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: fresh (never called) instances, each on a compiled module of its own, made by the recycler
    _ready: list[extism.Plugin] = field(default_factory=list)
    #: compiled modules without an instance (a module whose instantiation runs a start function)
    _idle: list[CompiledPlugin] = field(default_factory=list)
    #: instances of finished calls, waiting for the recycler (or a call) to replace them
    _returned: list[extism.Plugin] = field(default_factory=list)
    _recycling: int = 0
    #: how many compiled modules are kept for later calls (`Host(pool_size=…)`)
    pool_size: int = POOL_MAX_IDLE
    _fresh: threading.Condition = field(init=False)
    _checked: _CheckedModule | None = None
    compile_ms: float | None = None
    #: the host's checked modules by what compiling depends on, shared by the LoadedPlugins of
    #: one module (a grant change or a test with other config does not read and check it again)
    checked_modules: dict[tuple[Any, ...], _CheckedModule] | None = None

    def __post_init__(self) -> None:
        self._fresh = threading.Condition(self._lock)  # a recycled instance is ready

    @property
    def name(self) -> str:
        return self.artifact.info.name

    @property
    def version(self) -> str:
        return self.artifact.info.version

    @property
    def sha256(self) -> str:
        return self.artifact.sha256

    @property
    def info(self) -> PluginInfo:
        return self.artifact.info

    @property
    def kv_namespace(self) -> str:
        """Whose kv data this plugin reads: its verified identity (`kv_namespace`)."""
        a = self.artifact
        return kv_namespace(self.name, a.key_ids[0] if a.signed and a.key_ids else None)

    @property
    def max_output_bytes(self) -> int | None:
        """The user's cap on this plugin's result (grant `max_output_kib`), else None."""
        kib = self.effective.max_output_kib
        return kib * 1024 if kib else None

    @property
    def compiled(self) -> bool:
        return self._checked is not None

    def _extism_manifest(self, wasm: bytes, deps: list[tuple[Artifact, bytes]]) -> dict[str, Any]:
        eff = self.effective
        # Hash-pinned: the runtime refuses bytes other than the verified ones. Linked dependencies
        # come first, each under its plugin name; the plugin's own module is `main`.
        modules = [{"data": w, "hash": d.sha256, "name": names.module_name(d.info.name)} for d, w in deps]
        manifest: dict[str, Any] = {
            "wasm": [*modules, {"data": wasm, "hash": self.sha256, "name": names.MAIN_MODULE}],
            "memory": {"max_pages": eff.memory_mib * 16},
            "timeout_ms": eff.timeout_ms,
        }
        if eff.paths and self.info.wasi:
            manifest["allowed_paths"] = dict(eff.paths)
        # No `config` and no `allowed_hosts`: the host's config_get and http_request serve them.
        return manifest

    def _compile(self) -> CompiledPlugin:
        """A fresh CompiledPlugin (its own engine) for one new instance; the first one checks the
        wasm (hash, imports, no start function) and keeps the manifest for the next ones."""
        sdk = _sdk()
        started = time.perf_counter()
        with self._lock:  # the checks once; compiling itself outside the lock (other calls borrow meanwhile)
            if self._compile_error is not None:
                raise PluginCallError(self._compile_error, "unavailable")
            try:
                checked = self._checked or self._check()
            except LoadError as exc:
                self._compile_error = f"plugin {self.name} cannot be loaded: {exc}"
                raise PluginCallError(self._compile_error, "unavailable") from None
            except OSError as exc:
                self._compile_error = f"plugin {self.name} cannot be loaded: {exc}"
                raise PluginCallError(self._compile_error, "unavailable") from None
        try:
            compiled = sdk.CompiledPlugin(checked.manifest, wasi=self.info.wasi, functions=sdk.hostfns.FUNCTIONS)
        except (sdk.extism.Error, OSError) as exc:
            with self._lock:
                self._compile_error = f"plugin {self.name} cannot be loaded: {str(exc).splitlines()[0]}"
            raise PluginCallError(self._compile_error, "unavailable") from None
        with self._lock:
            if self.compile_ms is None:
                self.compile_ms = (time.perf_counter() - started) * 1000
            self._checked = checked
        return compiled

    def _check(self) -> _CheckedModule:
        """The host's checked module of this wasm under these limits, else the wasm read again,
        held to its verified hash and checked (`LoadError` when it fails)."""
        eff = self.effective
        linked = tuple(d.sha256 for d in self.artifact.deps)
        key = (self.sha256, self.info.wasi, eff.memory_mib, eff.timeout_ms, tuple(sorted(eff.paths.items())), linked)
        cached = self.checked_modules.get(key) if self.checked_modules is not None else None
        if cached is not None:
            return cached
        wasm = _read_verified(self.artifact)
        deps = [(d, _read_verified(d)) for d in self.artifact.deps]
        start = self._check_imports(wasm, deps)
        checked = _CheckedModule(self._extism_manifest(wasm, deps), start=start)
        if self.checked_modules is not None:
            self.checked_modules[key] = checked
        return checked

    def _check_imports(self, wasm: bytes, deps: list[tuple[Artifact, bytes]]) -> bool:
        """Refuse what this host cannot link (in the plugin's module and every linked one); True
        when any of them has a start section."""
        from plugin_format.wasm import WASI_MODULES, inspect_module  # noqa: PLC0415 - at compile time

        modules: list[tuple[str, str | None, ModuleInfo]] = []  # (who, its module name if linked, info)
        for who, linked_as, data in [
            *((f"linked plugin {d.info.name}", names.module_name(d.info.name), w) for d, w in deps),
            ("the module", None, wasm),
        ]:
            try:
                modules.append((who, linked_as, inspect_module(data, validate=False)))
            except ValueError as exc:
                raise LoadError(f"{who}: {exc}") from None
        provided = {linked_as: info for _, linked_as, info in modules if linked_as is not None}
        hostfns = _sdk().hostfns
        for who, _, info in modules:
            unknown = sorted(
                f"{m}::{n}" for m, n, _ in info.imports if m == hostfns.USER and n not in hostfns.USER_FUNCTIONS
            )
            if unknown:
                raise LoadError(f"{who} imports host function(s) this host does not offer: {', '.join(unknown)}")
            if info.wasi and not self.info.wasi:
                raise LoadError(f"{who} imports WASI but {self.name}'s plugin.json says `wasi: false`")
            for (mod, fn), sig in sorted(info.func_imports.items()):
                if mod in (hostfns.USER, ENV_MODULE) or mod in WASI_MODULES:
                    continue
                lib = provided.get(mod)
                if lib is None:
                    raise LoadError(
                        f"{who} imports {mod}::{fn}, and no plugin named {mod!r} is linked (declare it in "
                        f"plugin.yaml `dependencies:` and install it, or give it with --with)"
                    )
                if lib.func_exports.get(fn) != sig:
                    have = lib.func_exports.get(fn)
                    got = "does not export it" if have is None else f"exports it as {have[0]} -> {have[1]}"
                    raise LoadError(f"{who} imports {mod}::{fn} as {sig[0]} -> {sig[1]}, but {mod} {got}")
        return any(info.start for _, _, info in modules)

    def borrow(self) -> extism.Plugin:
        """A fresh instance for one call, on a compiled module (an engine) no other call in flight
        uses: a ready one the recycler made after an earlier call; else one made now from a used
        instance not recycled yet (or from the module of one being recycled: waiting for that is
        shorter than compiling); else from a newly compiled module."""
        with self._lock:
            while True:
                if self._ready:
                    return self._ready.pop()
                used = self._returned.pop() if self._returned else None
                compiled = self._idle.pop() if used is None and self._idle else None
                if used is not None or compiled is not None or not self._recycling:
                    break
                self._fresh.wait(1.0)
        if used is not None:
            compiled = used.compiled_plugin
            used.__del__()
        if compiled is None:
            compiled = self._compile()
        try:
            return self._instantiate(compiled)
        except _sdk().extism.Error as exc:
            raise PluginCallError(
                f"plugin {self.name}: cannot instantiate: {str(exc).splitlines()[0]}", "unavailable"
            ) from None

    def _instantiate(self, compiled: CompiledPlugin) -> extism.Plugin:
        """`extism.Plugin(compiled)`. A start function runs during it, and Extism arms no timer
        there (a loop in it once hung every worker thread of the server): such a module is
        instantiated on a daemon thread, waited for timeout_ms; past that the plugin is marked
        unavailable (so no second thread gets stuck) and the call is a tool error. The stuck thread
        cannot be stopped, but it holds no worker and does not keep the process from exiting."""
        extism = _sdk().extism
        if self._checked is None or not self._checked.start:
            return extism.Plugin(compiled)
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["instance"] = extism.Plugin(compiled)
            except extism.Error as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, daemon=True, name=f"instantiate {self.name}")
        thread.start()
        thread.join(self.effective.timeout_ms / 1000)
        if thread.is_alive():
            with self._lock:
                self._compile_error = (
                    f"plugin {self.name} cannot be loaded: its start function did not return within its "
                    f"timeout_ms ({self.effective.timeout_ms} ms); fix the module and reload it"
                )
            raise PluginCallError(self._compile_error, "unavailable")
        if "error" in box:
            raise box["error"]
        return box["instance"]

    def give_back(self, instance: extism.Plugin) -> None:
        """After a clean call: the instance is dropped (its state with it) and a fresh one made on
        the same compiled module for a later call — once the result is handed back, by the call's
        thread (`host.cancel.after_reply`) or else by the recycler's. Not called after a trap, timeout
        or cancel: that engine goes too (`discard`)."""
        with self._lock:
            full = len(self._ready) + len(self._returned) + len(self._idle) + self._recycling >= self.pool_size
            if not full:
                self._returned.append(instance)
        if full:  # enough pooled: just free it
            _RECYCLER.put(None, instance)
        elif not after_reply(self._recycle):  # a call thread recycles once the result is handed back
            _RECYCLER.put(self, None)

    def discard(self, instance: extism.Plugin) -> None:
        """After a trap, timeout, cancel or denial: the instance and its engine are dropped (by the
        recycler: freeing a store is not the caller's wait either)."""
        _RECYCLER.put(None, instance)

    def _recycle(self) -> None:
        """Off the call's path: a used instance (unless a call took it first) is freed, then a fresh,
        never-called instance on its compiled module is pooled (the bare module instead when
        instantiating runs a start function, which must stay on a watched thread). Freeing first:
        Extism unmaps the store, which holds the process's address-space lock that the next
        call's page faults on its fresh instance need, so a free overlapping that call slows it
        (measured: 5–7% of an echo round trip); a call that comes meanwhile waits for the fresh one."""
        with self._lock:
            if not self._returned:
                return
            used = self._returned.pop()
            self._recycling += 1
        fresh = None
        compiled = used.compiled_plugin
        try:
            used.__del__()  # free its store now, not whenever the garbage collector gets to it
            del used
            if compiled is not None and self._checked is not None and not self._checked.start:
                try:
                    fresh = _sdk().extism.Plugin(compiled)
                except _sdk().extism.Error:
                    compiled = None  # the next call compiles (and reports the error) itself
        finally:
            with self._lock:
                self._recycling -= 1
                if fresh is not None:
                    self._ready.append(fresh)
                elif compiled is not None:
                    self._idle.append(compiled)
                self._fresh.notify_all()

    @property
    def pooled(self) -> int:
        """Compiled modules kept for later calls (with a fresh instance on them, bare, or with a used
        instance the recycler has not replaced yet)."""
        with self._lock:
            return len(self._ready) + len(self._idle) + len(self._returned) + self._recycling

    def warm(self) -> None:
        """Compile now (instead of on the first call); the module is pooled for that call."""
        compiled = self._compile()
        with self._lock:
            if not (self._ready or self._idle):
                self._idle.append(compiled)


class _Recycler:
    """One daemon thread doing, after each call, what no caller should wait for: freeing the used
    instance (Extism unmaps its store) and instantiating the next call's fresh one on the same
    compiled module. Both are C calls that release the GIL, so they overlap with the server
    answering; a call then starts on a ready instance (measured on a C echo plugin: free ~0.07 ms
    and instantiate ~0.09 ms, off every call's path). A call that comes before the recycler got
    to the used instance recycles it itself, as every call did before."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[LoadedPlugin | None, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None

    def put(self, plugin: LoadedPlugin | None, instance: Any) -> None:
        """`plugin`: recycle one of its returned instances; None: just free `instance`."""
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="extism-recycler", daemon=True)
                self._thread.start()
        self._queue.put((plugin, None if plugin is not None else instance))

    def _run(self) -> None:
        while True:
            plugin, doomed = self._queue.get()
            try:
                if plugin is not None:
                    plugin._recycle()
                elif doomed is not None:
                    doomed.__del__()
            except Exception:  # the recycler must outlive any surprise  # noqa: BLE001
                log.exception("recycling a plugin instance failed")
            finally:
                del plugin, doomed
                with self._lock:
                    self._pending -= 1
                    if not self._pending:
                        self._settled.notify_all()

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every instance handed over so far is freed or pooled (tests, benchmarks)."""
        with self._lock:
            return self._settled.wait_for(lambda: not self._pending, timeout)


_RECYCLER = _Recycler()
settle = _RECYCLER.settle


def _read_verified(artifact: Artifact) -> bytes:
    """The artifact's wasm, read again and held to the sha256 its signature covers."""
    wasm = artifact.read_wasm()
    if hashlib.sha256(wasm).hexdigest() != artifact.sha256:
        raise LoadError(
            f"{artifact.source}: the wasm changed since it was verified "
            f"(sha256 is no longer {artifact.sha256[:16]}…); rebuild or reinstall it"
        )
    return wasm


class _OutputTooLargeError(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _same_build(a: Artifact, b: Artifact) -> bool:
    def key(x: Artifact) -> tuple[Any, ...]:
        return (x.sha256, x.info.doc, x.source, x.signed, x.trusted, x.key_ids, tuple(key(d) for d in x.deps))

    return key(a) == key(b)


def _linked(dep: Artifact) -> dict[str, Any]:
    return {"plugin": dep.info.name, "version": dep.info.version, "sha256": dep.sha256, "source": dep.source}


def _classify(message: str) -> tuple[str, str]:
    """(kind, one-line message) of an extism.Error."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    if first == "timeout":
        return "timeout", first
    trap_signs = (
        "wasm trap",
        "error while executing",
        "wasm backtrace",
        "unreachable",
        "out of bounds",
        "stack overflow",
        "Exited with",
        "call stack exhausted",
    )
    if any(s in message for s in trap_signs):
        return "trap", first
    return "error", message.strip()[:_ERROR_PREVIEW]


class Host:
    """Plugins, grants, the audit log, the kv store and HTTP settings, in one place."""

    def __init__(
        self,
        *,
        grants: dict[str, Grant] | None = None,
        audit: AuditLog | None = None,
        kv: KV | None = None,
        http: HttpSettings | None = None,
        hints: Hints | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        pool_size: int = POOL_MAX_IDLE,
    ) -> None:
        """`max_output_bytes`: the global cap on a call's result (a grant's `max_output_kib` sets
        a plugin's own). `pool_size`: compiled modules kept per plugin for later calls; with fewer
        than the calls a server runs at once, the calls beyond it compile a module each."""
        self.max_output_bytes = max_output_bytes
        self.pool_size = pool_size
        self.grants = grants or {}
        self.audit = audit or AuditLog(None)
        self.kv: KV = kv or KVStore(None)
        self.http = http or HttpSettings()
        self.hints = hints or Hints()
        self.plugins: dict[str, LoadedPlugin] = {}
        self._checked_modules: dict[tuple[Any, ...], _CheckedModule] = {}

    def _audit_load(self, loaded: LoadedPlugin) -> None:
        info, artifact, eff = loaded.info, loaded.artifact, loaded.effective
        self.audit.append(
            "load",
            plugin=info.name,
            version=info.version,
            sha256=artifact.sha256,
            source=artifact.source,
            signed=artifact.signed,
            trusted=artifact.trusted,
            effective=eff.to_dict(),
            **({"linked": [_linked(d) for d in artifact.deps]} if artifact.deps else {}),
        )
        for d in eff.decisions:
            self.audit.append("grant", plugin=info.name, version=info.version, sha256=artifact.sha256, **d.to_dict())

    def add(self, artifact: Artifact) -> LoadedPlugin:
        """Register a verified artifact; records its capability decisions in the audit log."""
        info = artifact.info
        if info.name in self.plugins:
            other = self.plugins[info.name]
            raise LoadError(
                f"plugin {info.name} is loaded twice ({other.version} from {other.artifact.source} "
                f"and {info.version} from {artifact.source}); load one of them"
            )
        eff = effective(info.name, info.permissions, grant_for(self.grants, info.name))
        loaded = LoadedPlugin(artifact, eff, checked_modules=self._checked_modules, pool_size=self.pool_size)
        self.plugins[info.name] = loaded
        self._audit_load(loaded)
        return loaded

    def plan(self, artifacts: Iterable[Artifact], grants: dict[str, Grant] | None = None) -> dict[str, LoadedPlugin]:
        """The plugin set these artifacts make (under `grants`, default the current ones), without
        installing it: an unchanged plugin (same wasm sha256, plugin.json, signature status and
        source; same effective permissions) keeps its current `LoadedPlugin`. Raises `LoadError`
        for a name given twice."""
        grants = self.grants if grants is None else grants
        out: dict[str, LoadedPlugin] = {}
        for artifact in artifacts:
            info = artifact.info
            if info.name in out:
                other = out[info.name]
                raise LoadError(
                    f"plugin {info.name} is loaded twice ({other.version} from {other.artifact.source} "
                    f"and {info.version} from {artifact.source}); load one of them"
                )
            eff = effective(info.name, info.permissions, grant_for(grants, info.name))
            current = self.plugins.get(info.name)
            if current is not None and _same_build(current.artifact, artifact) and current.effective == eff:
                out[info.name] = current
            else:
                out[info.name] = LoadedPlugin(
                    artifact, eff, checked_modules=self._checked_modules, pool_size=self.pool_size
                )
        return out

    def swap(self, plugins: dict[str, LoadedPlugin], grants: dict[str, Grant] | None = None) -> PluginChanges:
        """Install a set from `plan` in one assignment (calls in flight keep the plugin they hold);
        audits the new and the unloaded plugins."""
        old = self.plugins
        kept = {name for name, p in plugins.items() if old.get(name) is p}
        changes = PluginChanges(
            added=tuple(sorted(n for n in plugins if n not in old)),
            replaced=tuple(sorted(n for n in plugins if n in old and n not in kept)),
            removed=tuple(sorted(n for n in old if n not in plugins)),
        )
        if grants is not None:
            self.grants = grants
        self.plugins = plugins
        live = {p.sha256 for p in plugins.values()}
        for key in [k for k in self._checked_modules if k[0] not in live]:
            del self._checked_modules[key]  # calls in flight hold their own reference
        for name in (*changes.replaced, *changes.removed):
            gone = old[name]
            self.audit.append(
                "unload", plugin=name, version=gone.version, sha256=gone.sha256, source=gone.artifact.source
            )
        for name in (*changes.added, *changes.replaced):
            self._audit_load(plugins[name])
        return changes

    def add_all(self, artifacts: Iterable[Artifact]) -> None:
        for a in artifacts:
            self.add(a)

    def get(self, name: str) -> LoadedPlugin:
        try:
            return self.plugins[name]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise PluginCallError(f"no plugin named {name} is loaded (loaded: {known})", "unavailable") from None

    def call(
        self,
        name: str | LoadedPlugin,
        export: str,
        data: bytes,
        context: dict[str, Any] | None = None,
        check_output: Callable[[bytes], str | None] | None = None,
        cancel: Any = None,
        progress: Callable[[float, float | None, str | None], None] | None = None,
    ) -> CallResult:
        """Run one export of the plugin named `name` (or of that `LoadedPlugin`, which need no longer
        be in the current set). Raises `PluginCallError` (the plugin's error, a timeout, a trap, a
        denial, a result over the size cap, or `check_output`'s complaint about the result, e.g.
        the MCP server's output_schema check; `cancelled` when `cancel`, a `host.cancel.CallCancel`,
        was cancelled). Every call, whatever happens, gets one audit record with its true outcome.
        `progress` receives the plugin's progress_notify calls."""
        plugin = name if isinstance(name, LoadedPlugin) else self.get(name)
        started = time.perf_counter()
        audit_base: dict[str, Any] = {
            "plugin": plugin.name,
            "version": plugin.version,
            "sha256": plugin.sha256,
            "export": export,
            "input_sha256": hashlib.sha256(data).hexdigest(),
            "input_size": len(data),
        }
        if context and context.get("tool"):
            audit_base["tool"] = context["tool"]
        if context and context.get("request_id") is not None:
            audit_base["request_id"] = str(context["request_id"])
        output = b""
        try:
            output = self._run(plugin, export, data, context, check_output, cancel, progress)
        except PluginCallError as exc:
            error: PluginCallError | None = exc
        except Exception as exc:  # noqa: BLE001 - whatever escapes becomes the call's error, audited
            log.exception("call %s %s failed in the host", plugin.name, export)
            error = PluginCallError(f"plugin {plugin.name}: {export} failed in the host: {type(exc).__name__}", "error")
        else:
            error = None
        duration = (time.perf_counter() - started) * 1000
        record = {**audit_base, "duration_ms": round(duration, 3), "outcome": "ok" if error is None else error.kind}
        if error is not None:
            record["error"] = str(error)[:_ERROR_PREVIEW]
            if error.kind == "cancelled" and cancel is not None and cancel.cancelled_at is not None:
                record["stopped_after_ms"] = round((time.perf_counter() - cancel.cancelled_at) * 1000, 3)
        else:
            record["output_size"] = len(output)
        self.audit.append("call", **record)
        if error is not None:
            raise error
        return CallResult(output, duration)

    def _run(
        self,
        plugin: LoadedPlugin,
        export: str,
        data: bytes,
        context: dict[str, Any] | None,
        check_output: Callable[[bytes], str | None] | None,
        cancel: Any = None,
        progress: Callable[[float, float | None, str | None], None] | None = None,
    ) -> bytes:
        name = plugin.name
        sdk = _sdk()
        hostfns = sdk.hostfns
        callable_ = {e.name for e in plugin.info.exports} | set(plugin.info.hooks.values())
        if plugin.info.exports and export not in callable_:
            raise PluginCallError(
                f"plugin {name} has no export {export!r} (it has: {', '.join(e.name for e in plugin.info.exports)})",
                "unavailable",
            )
        instance = plugin.borrow()
        if cancel is not None and not cancel.attach(instance):
            plugin.give_back(instance)  # never ran: still clean
            raise PluginCallError(f"plugin {name}: {export} was cancelled by the client before it ran", "cancelled")
        # A plugin's own grant (max_output_kib) may set its cap above or below the global one.
        cap = plugin.max_output_bytes or self.max_output_bytes

        def take(buf: Any) -> bytes:
            # Checked before the copy: an oversized result never becomes a Python object.
            if len(buf) > cap:
                raise _OutputTooLargeError(len(buf))
            return bytes(buf)

        state = hostfns.CallState(
            self, plugin, instance, export, dict(context or {}), time.monotonic() + plugin.effective.timeout_ms / 1000
        )
        state.progress = progress  # the plugin's progress_notify → the caller (MCP notifications/progress)
        hostfns.set_current(state)
        error: PluginCallError | None = None
        output = b""
        reusable = False
        try:
            output = instance.call(export, data, parse=take)
            reusable = True
        except _OutputTooLargeError as exc:
            reusable = True
            error = PluginCallError(
                f"plugin {name}: {export} returned {exc.size:,} bytes, over the {cap:,}-byte cap on a result "
                f"(raise it for this plugin with --grant '{name}:max_output_kib=N' or max_output_kib in its grant)",
                "too_large",
            )
        except UnicodeDecodeError:
            # The guest's error message is not UTF-8 (the SDK decodes it strictly): still its error.
            reusable = True
            error = PluginCallError(f"plugin {name}: {export} failed (its error message is not UTF-8)", "error")
        except sdk.extism.Error as exc:
            kind, message = _classify(str(exc))
            if cancel is not None and cancel.cancelled:
                error = PluginCallError(f"plugin {name}: {export} was cancelled by the client", "cancelled")
            elif state.denial is not None:
                error = PluginCallError(str(state.denial), "denied")
            elif state.host_error is not None:
                error = PluginCallError(state.host_error, "error")
            elif kind == "timeout":
                error = PluginCallError(
                    f"plugin {name}: {export} timed out after {plugin.effective.timeout_ms} ms "
                    "(its timeout_ms; the plugin asks for it in plugin.yaml)",
                    "timeout",
                )
            elif kind == "trap":
                error = PluginCallError(
                    f"plugin {name}: {export} crashed (a wasm trap: unreachable code, an "
                    "out-of-bounds access or a stack overflow); the instance was discarded",
                    "trap",
                )
            else:
                reusable = True  # the guest returned an error: the instance is fine
                error = PluginCallError(message or f"plugin {name}: {export} failed", "error")
        finally:
            hostfns.set_current(None)
            if cancel is not None:
                cancel.detach()
        if state.denial is not None or state.host_error is not None:
            # The guest carried on after a refusal (it cannot see the cancel until its next check).
            reusable = False
            if error is None or error.kind not in ("denied", "error"):
                error = PluginCallError(str(state.denial or state.host_error), "denied" if state.denial else "error")
        if error is not None and state.unset_config and error.kind != "denied":
            # The plugin may have failed for want of a value it read as not set: say how to supply it.
            unset = "; ".join(f"config {k!r} was not set ({how})" for k, how in dict(state.unset_config).items())
            error = PluginCallError(f"{error} [{unset}]", error.kind)
        if reusable:
            plugin.give_back(instance)
        else:
            plugin.discard(instance)
        if error is not None:
            raise error
        if check_output is not None:
            problem = check_output(output)
            if problem:
                raise PluginCallError(problem, "invalid_output")
        return output

    def close(self) -> None:
        self.kv.close()
