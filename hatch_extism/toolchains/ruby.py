"""Ruby driver: the plugin's source runs in CRuby 3.4 (ruby.wasm), merged into one module.

Where the engine comes from: npm's `@ruby/3.4-wasm-wasi` (pinned) ships `ruby+stdlib.wasm`, a
finished wasip1 reactor module (CRuby with its standard library packed inside); npm has no
static archives of it, so it cannot be linked like the Python and JavaScript engines. npm's
`binaryen` (pinned) provides `wasm-merge`. Both are installed once with the machine's npm into
the platform toolchain cache (`ruby-wasm-<v>-binaryen-<v>/`).

A build makes three modules and fuses them with `wasm-merge` into ONE ordinary plugin:
- `ruby`: the engine, unchanged;
- `rb-js-abi-host`: our glue (pdks/ruby/runtime/glue.c plus a generated C file embedding the
  PDK prelude, the plugin's source, its exports and host-function imports), compiled by zig for
  wasm32-freestanding. It answers every import the engine's `JS` extension makes, so
  `JS.global.call(:extism_…)` in the prelude reaches the Extism kernel;
- `canonical_abi`: pdks/ruby/runtime/bridge.wat (assembled with wasmtime's wat2wasm), the
  engine's three resource imports and the byte copies between the two linear memories.
The merged module keeps only the plugin's exports and Ruby's `memory` (wasmtime's WASI reads
it); it imports `wasi_snapshot_preview1` and `extism:host/*` only, so the import audit, signing
and every Extism host see a single plugin. `--disable-compact-imports` matters: without it
binaryen writes an import encoding Extism refuses.

A project is one Ruby file, `plugin.rb` (or `src/plugin.rb`; `sources=[path]` names another).
Each export (plugin.yaml's `exports`; by default every top-level `def name` whose name does not
start with `_`) becomes a wasm export `() -> i32` that calls the top-level method of that name.
Host functions are the source's `Extism.host_function("module", "name"[, params[, results]])`
calls with literal arguments. Only pure-Ruby code runs: there is no way to add C extensions to a
prebuilt engine, and no gem installation (the stdlib's gems are there).

Caching: the engine and binaryen are installed once; the glue object and the bridge module are
built once per their sources (`cache_dir()/ruby-pdk/`). wasm-merge runs when the plugin's glue
module (its source, exports, host functions) changed — it reads and writes the 30 MB engine,
~20–60 s on 2 cores; the newest merged modules are kept (`ruby-pdk/merged/`), so rebuilding
unchanged sources takes a fraction of a second. The same source gives byte-identical modules.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains import zig_common
from hatch_extism.toolchains.base import (
    BuildRequest,
    BuildResult,
    Progress,
    Stopwatch,
    Toolchain,
    ToolchainStatus,
    _quiet,
    npm_install_staged,
    run_tool,
    which,
)
from hatch_extism.toolchains.bom_readers import platform_pdk
from hatch_extism.toolchains.c_codegen import (
    HostImport,
    declared_host_functions,
    script_plugin_c,
)
from plugin_format import bom
from plugin_format.errors import BuildError, ToolchainError
from plugin_format.paths import cache_dir, toolchains_dir
from plugin_format.wasm import inspect_module

#: The pinned engine and merger. Changing them changes every module's bytes (reproducibility).
RUBY_WASM_PACKAGE = "@ruby/3.4-wasm-wasi"
RUBY_WASM_VERSION = "2.10.1"
RUBY_VERSION = "3.4"
BINARYEN_VERSION = "132.0.0"
INSTALL_HINT = (
    f"needs Node.js with npm; then `extism-plugin toolchains --install` (runs `npm install "
    f"{RUBY_WASM_PACKAGE}@{RUBY_WASM_VERSION} binaryen@{BINARYEN_VERSION}` into the platform cache; "
    f"also needs zig: {zig_common.INSTALL_HINT})"
)

_DEFAULT_ENTRIES = ("plugin.rb", "src/plugin.rb")
_RUNTIME = ("glue.c", "glue.h")
_GLUE_FLAGS = ("--target=wasm32-freestanding", "-O2", "-g0", "-Wall", "-std=gnu11", "-nostdlib")
_MERGE_FLAGS = ("-all", "--disable-compact-imports", "--rename-export-conflicts")
#: The glue's reactor initializer (starts the interpreter, loads the source) becomes the
#: module's `_initialize`, which Extism runs once before the first call, outside its timeout.
_RENAMED = {"extism_rb_initialize": "_initialize"}
#: Module names of the merge; the engine's imports name the last two.
_ENGINE, _GLUE, _BRIDGE = "ruby", "rb-js-abi-host", "canonical_abi"
_METHOD = re.compile(r"[a-z_][A-Za-z0-9_]*\Z")
_TOP_LEVEL_DEF = re.compile(r"^def\s+([a-z][A-Za-z0-9_]*)\b", re.M)
_MAX_HOST_PARAMS = 8  # EXTISM_RB_MAX_HOST_PARAMS in glue.h


def install_dir() -> Path:
    return toolchains_dir() / f"ruby-wasm-{RUBY_WASM_VERSION}-binaryen-{BINARYEN_VERSION}"


def engine_wasm(root: Path | None = None) -> Path:
    return (root or install_dir()) / "node_modules" / RUBY_WASM_PACKAGE / "dist" / "ruby+stdlib.wasm"


def _wasm_merge(root: Path | None = None) -> Path:
    return (root or install_dir()) / "node_modules" / "binaryen" / "bin" / "wasm-merge"


def _installed(root: Path) -> bool:
    return engine_wasm(root).is_file() and _wasm_merge(root).is_file()


def _node() -> str:
    node = which("node")
    if not node:
        raise ToolchainError(
            f"the Ruby toolchain runs binaryen's wasm-merge with Node.js (`node` is not on PATH); {INSTALL_HINT}"
        )
    return node


class RubyToolchain(Toolchain):
    language = "ruby"
    install_hint = INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        root = install_dir()
        return zig_common.status(self, root, _installed(root) and which("node") is not None)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        zig_common.ensure_installed(progress)
        _node()
        target = install_dir()
        if _installed(target):
            return
        npm = which("npm")
        packages = (f"{RUBY_WASM_PACKAGE}@{RUBY_WASM_VERSION}", f"binaryen@{BINARYEN_VERSION}")
        if not npm:
            raise ToolchainError(f"the Ruby engine is not installed and `npm` is not on PATH; {INSTALL_HINT}")
        progress(f"installing {', '.join(packages)} from npm into {target} (~60 MB) …")
        with npm_install_staged(npm, packages, target, ready=_installed):
            pass
        progress(f"installed ruby.wasm {RUBY_WASM_VERSION} and binaryen {BINARYEN_VERSION}")

    def version(self) -> str:
        return (
            f"CRuby {RUBY_VERSION} ({RUBY_WASM_PACKAGE} {RUBY_WASM_VERSION}), binaryen {BINARYEN_VERSION}, "
            f"zig {zig_common.zig_version()}"
        )

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        clock = Stopwatch()
        entry = _entry_file(request)
        source = entry.read_bytes()
        text = source.decode("utf-8", errors="replace")
        exports = list(request.exports) or _top_level_methods(text)
        if not exports:
            raise BuildError(f"{entry}: nothing to export (no top-level `def`, no exports in plugin.yaml)")
        for name in exports:
            if not _METHOD.match(name):
                raise BuildError(f"export {name!r} is not a Ruby method name (lowercase letters, digits, _)")
        host_functions = declared_host_functions(text, "Extism.host_function", _MAX_HOST_PARAMS)
        glue_object = _glue_object(progress)
        bridge = _bridge_module()
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        with tempfile.TemporaryDirectory(prefix="extism-ruby-") as work_dir:
            work = Path(work_dir)
            (work / "plugin.c").write_text(
                _plugin_c(source, entry.relative_to(request.project_dir).as_posix(), exports, host_functions)
            )
            log = zig_common.run_zig(
                "cc", *_GLUE_FLAGS, "-I", pdk_dir("ruby") / "runtime", "-Wl,--no-entry", "plugin.c", glue_object,
                *request.extra_args, "-o", "glue.wasm", cwd=work, what="ruby glue link", error=BuildError,
            )  # fmt: skip
            glue = (work / "glue.wasm").read_bytes()
            merged = _merged_cache(glue, bridge, exports)
            if not merged.is_file():
                progress(f"ruby: merging the CRuby {RUBY_VERSION} engine with the plugin (wasm-merge, ~30 s)")
                log += run_tool(
                    [_node(), _wasm_merge(), engine_wasm(), _ENGINE, work / "glue.wasm", _GLUE, bridge, _BRIDGE,
                     *_MERGE_FLAGS, "-o", work / "merged.wasm"],
                    cwd=work, what="wasm-merge", error=BuildError,
                )  # fmt: skip
                final = keep_exports((work / "merged.wasm").read_bytes(), [*exports, "memory"], _RENAMED)
                _check_module(final, exports)
                _store_merged(merged, final)
        shutil.copyfile(merged, tmp)
        tmp.replace(request.output)
        notes = [
            f"host function {f.module}::{f.name} ({f.params} params, {int(f.has_result)} results)"
            for f in host_functions
        ]
        return BuildResult(
            wasm=request.output,
            wasi=True,
            toolchain="ruby.wasm",
            toolchain_version=self.version(),
            seconds=clock.seconds,
            log=log,
            notes=notes,
            # CRuby and its standard library, merged in from npm's prebuilt engine
            bom=[bom.entry("npm", RUBY_WASM_PACKAGE, RUBY_WASM_VERSION), platform_pdk(self.language)],
        )


# ---- cached pieces ---------------------------------------------------------------------------


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update((part.encode() if isinstance(part, str) else part) + b"\0")
    return h.hexdigest()[:20]


def _glue_object(progress: Progress) -> Path:
    """runtime/glue.c compiled once per its sources, the C PDK header, the compiler and flags."""
    runtime = pdk_dir("ruby") / "runtime"
    header = pdk_dir("c") / "extism-pdk.h"  # the kernel imports and allocator the glue includes
    key = _digest(
        zig_common.zig_version(), *_GLUE_FLAGS, *((runtime / n).read_bytes() for n in _RUNTIME), header.read_bytes()
    )
    obj = cache_dir() / "ruby-pdk" / f"glue-{key}.o"
    if obj.is_file():
        return obj
    progress("ruby: compiling the PDK runtime")
    obj.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=obj.parent) as tmp:
        out = Path(tmp) / obj.name
        zig_common.run_zig(
            "cc", *_GLUE_FLAGS, "-I", pdk_dir("c"), "-c", runtime / "glue.c", "-o", out,
            cwd=runtime, what="ruby runtime compile", error=BuildError,
        )  # fmt: skip
        out.replace(obj)
    return obj


def _bridge_module() -> Path:
    """runtime/bridge.wat assembled once per its text (wasmtime's wat2wasm, a dependency already)."""
    import wasmtime

    text = (pdk_dir("ruby") / "runtime" / "bridge.wat").read_text()
    out = cache_dir() / "ruby-pdk" / f"bridge-{_digest(text)}.wasm"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, delete=False) as tmp:
            tmp.write(wasmtime.wat2wasm(text))
        Path(tmp.name).replace(out)
    return out


# ---- the merged module -------------------------------------------------------------------------

#: Merged modules kept in the cache (30 MB each): a rebuild of unchanged sources skips wasm-merge.
_MERGED_KEPT = 4


def _merged_cache(glue: bytes, bridge: Path, exports: list[str]) -> Path:
    """Where the merged module of exactly these inputs is (or would be) cached."""
    key = _digest(RUBY_WASM_VERSION, BINARYEN_VERSION, *_MERGE_FLAGS, glue, bridge.read_bytes(), *exports)
    return cache_dir() / "ruby-pdk" / "merged" / f"{key}.wasm"


def _store_merged(target: Path, module: bytes) -> None:
    """Write atomically, then drop all but the newest `_MERGED_KEPT` merged modules."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial", delete=False) as tmp:
        tmp.write(module)
    Path(tmp.name).replace(target)
    kept = sorted(target.parent.glob("*.wasm"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[_MERGED_KEPT:]:
        old.unlink(missing_ok=True)


def _leb(data: bytes, at: int) -> tuple[int, int]:
    """An unsigned LEB128 at `at`: (value, offset after it)."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def keep_exports(module: bytes, names: list[str], rename: dict[str, str] | None = None) -> bytes:
    """`module` with only the exports named `names` or keys of `rename` (those get the new
    name). The merge keeps every input's exports: the engine's `_initialize` and ABI functions
    are no plugin's interface, and the glue's initializer must become the module's
    `_initialize`. Other sections are copied byte for byte."""
    rename = rename or {}
    wanted = set(names) | set(rename)
    out = bytearray(module[:8])
    at = 8
    while at < len(module):
        section, payload_at = _leb(module, at + 1)
        section_id, end = module[at], payload_at + section
        payload = module[payload_at:end]
        at = end
        if section_id == 7:
            count, pos = _leb(payload, 0)
            kept = []
            for _ in range(count):
                length, pos = _leb(payload, pos)
                name = payload[pos : pos + length].decode()
                start, pos = pos - len(_uleb(length)), pos + length
                _, pos = _leb(payload, pos + 1)  # kind byte, then the index
                if name in rename:
                    new_name = rename[name].encode()
                    kept.append(_uleb(len(new_name)) + new_name + payload[start + len(_uleb(length)) + length : pos])
                elif name in wanted:
                    kept.append(payload[start:pos])
            payload = _uleb(len(kept)) + b"".join(kept)
        out += bytes([section_id]) + _uleb(len(payload)) + payload
    return bytes(out)


def _check_module(module: bytes, exports: list[str]) -> None:
    """The merge resolved every engine-private import and kept every export."""
    info = inspect_module(module)
    private = sorted({mod for mod, _, _ in info.imports if mod in (_ENGINE, _GLUE, _BRIDGE)})
    if private:
        raise BuildError(f"wasm-merge left imports of {', '.join(private)} unresolved")
    missing = [name for name in [*exports, "_initialize"] if name not in info.func_exports]
    if missing:
        raise BuildError(f"the merged module lacks the export(s) {', '.join(missing)}")


# ---- the plugin ------------------------------------------------------------------------------


def _entry_file(request: BuildRequest) -> Path:
    project = request.project_dir
    candidates = [project / s for s in request.sources] or [project / name for name in _DEFAULT_ENTRIES]
    entry = next((c for c in candidates if c.is_file()), None)
    if entry is None:
        names = ", ".join(str(c.relative_to(project)) for c in candidates)
        raise BuildError(f"{project}: no Ruby entry file (looked for {names})")
    return entry


def _top_level_methods(text: str) -> list[str]:
    """`def name` at the start of a line (top level), public names only, in source order."""
    return list(dict.fromkeys(m.group(1) for m in _TOP_LEVEL_DEF.finditer(text)))


def _plugin_c(source: bytes, source_name: str, exports: list[str], host_functions: list[HostImport]) -> str:
    prelude = (pdk_dir("ruby") / "lib" / "extism.rb").read_bytes()
    what = "hatch_extism.toolchains.ruby: the plugin's Ruby source and its exports"
    return script_plugin_c("rb", what, prelude, source, source_name, exports, host_functions)
