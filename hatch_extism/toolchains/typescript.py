"""TypeScript driver: AssemblyScript, a TypeScript subset compiled ahead of time to wasm.

The compiler is npm `assemblyscript` (pure JavaScript plus binaryen's wasm build), run with the
machine's Node.js. It is installed once with the machine's `npm` into the platform toolchain
cache (`assemblyscript-<version>/`), so projects need no `node_modules` of their own.

A project is an AssemblyScript package: the entry is `assembly/index.ts` (or the request's
`sources`) and every function it exports is a plugin function. `import … from "extism-pdk"`
resolves to the project's own `node_modules/extism-pdk` when there is one, else to the PDK
shipped with the platform (`pdks/typescript`), staged for the compiler under that name.

Fixed flags, and why:
- `--runtime incremental`: an Extism instance lives across calls, so memory must be reclaimed
  (`stub` never frees: repeated large inputs would exhaust the memory limit).
- `--use abort=…extismAbort`: `throw`, failed asserts and runtime errors set the call's error
  to their message (`error_set`) and trap, instead of needing an `env.abort` import that no
  Extism host provides. plugin.yaml's `build: {abort: …}` chooses another: `trap` (a plain trap,
  `--use abort=`) or a function of the project as the compiler names it (`assembly/index/myAbort`),
  which is what projects on the official `@extism/as-pdk` write (that PDK has no handler).
- `--config <empty asconfig.json>`: an `asconfig.json` in the project is ignored — the driver
  owns the flags (its `entries` would otherwise add sources); pass more with `extra_args`.
No assertions are stripped (`--noAssert` is not used): a failed assert is a useful error.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from hatch_extism.data import pdk_dir
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
from hatch_extism.toolchains.bom_readers import npm_lock, platform_pdk
from plugin_format import bom
from plugin_format.errors import BuildError, ToolchainError
from plugin_format.paths import toolchains_dir
from plugin_format.wasm import inspect_module

#: The pinned compiler. Changing it changes every module's bytes (reproducibility).
ASSEMBLYSCRIPT_VERSION = "0.28.20"
#: `assemblyscript` depends on `long@^5.2.4`; pinning it too makes the install fully exact
#: (binaryen is pinned exactly by assemblyscript itself).
LONG_VERSION = "5.3.2"
#: assemblyscript's `engines.node`.
MIN_NODE_MAJOR = 20

#: The npm package name plugins import the PDK by.
PDK_PACKAGE = "extism-pdk"
#: The PDK's abort handler, by the compiler's internal name.
ABORT_HANDLER = f"~lib/{PDK_PACKAGE}/assembly/abort/extismAbort"
#: plugin.yaml `build.abort` values that are not a function name → the `--use abort=` value
ABORT_CHOICES = {"pdk": ABORT_HANDLER, "trap": ""}
#: The default entry file, relative to the project.
DEFAULT_ENTRY = Path("assembly") / "index.ts"

INSTALL_HINT = (
    f"needs Node.js >= {MIN_NODE_MAJOR} with npm; then `extism-plugin toolchains --install` "
    f"(runs `npm install assemblyscript@{ASSEMBLYSCRIPT_VERSION}` into the platform cache)"
)

OPT_FLAGS = {
    "small": ("-O3z",),  # full optimisation, shrink level 2
    "speed": ("-O3",),
    "debug": ("-O0", "--debug"),
}


def install_dir() -> Path:
    return toolchains_dir() / f"assemblyscript-{ASSEMBLYSCRIPT_VERSION}"


def _asc_js(root: Path) -> Path:
    return root / "node_modules" / "assemblyscript" / "bin" / "asc.js"


@lru_cache(maxsize=1)
def _node_major() -> int | None:
    """Major version of the `node` on PATH, or None without one (or when it cannot run)."""
    node = which("node")
    if not node:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _require_node() -> str:
    node = which("node")
    major = _node_major()
    if not node or major is None:
        raise ToolchainError(f"AssemblyScript needs Node.js (`node` is not on PATH); {INSTALL_HINT}")
    if major < MIN_NODE_MAJOR:
        raise ToolchainError(
            f"AssemblyScript {ASSEMBLYSCRIPT_VERSION} needs Node.js >= {MIN_NODE_MAJOR}; "
            f"`node` on PATH is version {major}"
        )
    return node


class TypeScriptToolchain(Toolchain):
    language = "typescript"
    install_hint = INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        root = install_dir()
        found = _asc_js(root).is_file() and (_node_major() or 0) >= MIN_NODE_MAJOR
        return ToolchainStatus(
            self.language,
            found,
            ASSEMBLYSCRIPT_VERSION if found else None,
            str(root) if found else None,
            self.install_hint,
        )

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        _require_node()
        target = install_dir()
        if _asc_js(target).is_file():
            return
        npm = which("npm")
        if not npm:
            raise ToolchainError(f"AssemblyScript is not installed and `npm` is not on PATH; {INSTALL_HINT}")
        progress(f"installing assemblyscript {ASSEMBLYSCRIPT_VERSION} from npm into {target} …")
        packages = (f"assemblyscript@{ASSEMBLYSCRIPT_VERSION}", f"long@{LONG_VERSION}")
        with npm_install_staged(npm, packages, target, ready=lambda d: _asc_js(d).is_file()):
            pass
        progress(f"installed assemblyscript {ASSEMBLYSCRIPT_VERSION}")

    def version(self) -> str:
        return f"assemblyscript {ASSEMBLYSCRIPT_VERSION}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        node = _require_node()
        entries = [str(s) for s in request.sources] or [str(DEFAULT_ENTRY)]
        for entry in entries:
            if not (request.project_dir / entry).is_file():
                raise BuildError(
                    f"{request.project_dir}: no entry file {entry} (AssemblyScript projects "
                    f"export their plugin functions from {DEFAULT_ENTRY})"
                )
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        progress(f"{self.language}: compiling {request.project_dir}")
        clock = Stopwatch()
        abort = str(request.settings.get("abort") or "pdk")
        handler = ABORT_CHOICES.get(abort, abort)
        with tempfile.TemporaryDirectory(prefix="extism-asc-") as packages:
            _stage_pdk(Path(packages))
            argv = [
                node,
                _asc_js(install_dir()),
                *entries,
                "--outFile",
                tmp,
                *OPT_FLAGS[request.optimize],
                "--runtime",
                "incremental",
                "--use",
                f"abort={handler}",
                "--path",
                packages,
                "--config",
                Path(packages) / "asconfig.json",
                "--noColors",
                *request.extra_args,
            ]
            try:
                log = run_tool(argv, cwd=request.project_dir, what=f"{self.language} build", error=BuildError)
            except BuildError as exc:
                if handler == ABORT_HANDLER and f"'{ABORT_HANDLER}' not found" in str(exc):
                    raise BuildError(
                        f"{self.language} build: {request.project_dir} never imports {PDK_PACKAGE}, "
                        f"whose abort handler the build installs; import it, or set `build: {{abort: trap}}` "
                        f"(plain traps) or `build: {{abort: assembly/index/myAbort}}` (a function of yours, "
                        f"as @extism/as-pdk projects do) in plugin.yaml"
                    ) from None
                if handler and f"'{handler}' not found" in str(exc):
                    raise BuildError(
                        f"{self.language} build: plugin.yaml build.abort names {handler!r}, which the compiler "
                        f"does not find: write it as <file without .ts>/<function>, e.g. assembly/index/myAbort"
                    ) from None
                raise
        if not tmp.is_file():
            raise BuildError(f"{self.language} build: the compiler reported success but wrote no {tmp.name}")
        info = inspect_module(tmp.read_bytes())
        missing = [n for n in request.exports if n not in info.func_exports or info.func_exports[n][0]]
        if missing:
            tmp.unlink()
            raise BuildError(
                f"{self.language} build: the module does not export {', '.join(missing)} as plugin "
                f"functions (`export function NAME(): i32` in {entries[0]}, no parameters)"
            )
        tmp.replace(request.output)
        # `env.*` imports are AssemblyScript's bindings to a JavaScript host (Math.random → seed,
        # Date.now, console.log, trace): the module loads only where the host links them.
        notes = [
            f"imports env.{name} (an AssemblyScript binding for JavaScript hosts); "
            "Extism hosts do not provide it unless you link it"
            for mod, name, _ in info.imports
            if mod == "env"
        ]
        return BuildResult(
            wasm=request.output,
            wasi=info.wasi,
            bom=_bom(request, handler),
            toolchain="assemblyscript",
            toolchain_version=ASSEMBLYSCRIPT_VERSION,
            seconds=clock.seconds,
            log=log,
            notes=notes,
        )


def _bom(request: BuildRequest, handler: str) -> list[dict[str, str]]:
    """AssemblyScript's runtime and standard library (compiled into every module), the npm
    packages of the project's package-lock.json that are not dev-only, and the platform's PDK
    when the build used it (its abort handler, or a source importing it)."""
    entries = [bom.entry("npm", "assemblyscript", ASSEMBLYSCRIPT_VERSION)]
    for folder in dict.fromkeys((request.project_dir, request.manifest_dir or request.project_dir)):
        entries += npm_lock(folder / "package-lock.json")
    sources = (p for p in request.project_dir.rglob("*.ts") if "node_modules" not in p.parts)
    if handler == ABORT_HANDLER or any(f'"{PDK_PACKAGE}"' in p.read_text(errors="replace") for p in sources):
        entries.append(platform_pdk("typescript"))
    return entries


def _stage_pdk(packages: Path) -> None:
    """Copy the platform's PDK sources to `<packages>/extism-pdk`, where `--path` finds them,
    beside an empty `asconfig.json` that replaces any in the project."""
    source = pdk_dir("typescript")
    if not (source / "assembly" / "index.ts").is_file():
        raise ToolchainError(f"the AssemblyScript PDK is missing from {source}")
    target = packages / PDK_PACKAGE
    shutil.copytree(source / "assembly", target / "assembly")
    shutil.copy2(source / "index.ts", target / "index.ts")
    (packages / "asconfig.json").write_text("{}\n")
