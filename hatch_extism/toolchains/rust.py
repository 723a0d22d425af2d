"""Rust driver: plain `rustc` for `wasm32-unknown-unknown` — no cargo, no crate registry.

The PDK (`pdks/rust`, crate `extism_pdk`) is compiled once per (PDK source, rustc, optimisation)
into an rlib cached under `cache_dir()/rust`; the plug-in is then a single `cdylib` crate linked
against it with `--extern extism_pdk=…`.

Any rustc whose sysroot holds the wasm32 standard library will do: rustup's (`rustup target add
wasm32-unknown-unknown`) or Debian's `rustc` + `libstd-rust-dev-wasm32` (which `ensure_installed`
can install with apt when running as root on Debian).
"""

from __future__ import annotations

import hashlib
import os
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
    run_tool,
    which,
)
from hatch_extism.toolchains.bom_readers import platform_pdk
from plugin_format import bom
from plugin_format.errors import BuildError, ToolchainError
from plugin_format.paths import cache_dir
from plugin_format.wasm import imports_wasi

TARGET = "wasm32-unknown-unknown"
DEBIAN_RUSTC = "/usr/bin/rustc"
APT_PACKAGES = ("rustc", "libstd-rust-dev-wasm32")
INSTALL_HINT = (
    f"rustup target add {TARGET} (with rustup), or as root on Debian/Ubuntu: "
    f"apt-get install -y {' '.join(APT_PACKAGES)}"
)

OPT_LEVELS = {"small": "s", "speed": "3", "debug": "0"}


def _sysroot(rustc: str) -> Path | None:
    try:
        proc = subprocess.run(
            [rustc, "--print", "sysroot"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


@lru_cache(maxsize=1)
def find_rustc() -> str | None:
    """The first rustc that can build for wasm32 — `$RUSTC`, the `rustc` on PATH (rustup's
    proxy included), Debian's `/usr/bin/rustc` — resolved to the real binary in its sysroot, so
    a `rust-toolchain` file never switches compilers between builds. None when there is none."""
    seen: set[Path] = set()
    for candidate in (os.environ.get("RUSTC"), which("rustc"), DEBIAN_RUSTC):
        if not candidate or not Path(candidate).exists():
            continue
        root = _sysroot(candidate)
        if root is None or root in seen:
            continue
        seen.add(root)
        if (root / "lib" / "rustlib" / TARGET / "lib").is_dir():
            real = root / "bin" / "rustc"
            return str(real) if real.is_file() else candidate
    return None


@lru_cache(maxsize=4)
def _rustc_version(rustc: str) -> str:
    """`rustc --version --verbose`: the full identity of the compiler (a cache key)."""
    return run_tool([rustc, "--version", "--verbose"], what="rustc --version")


def _short_version(rustc: str) -> str:
    # "rustc 1.63.0" / "rustc 1.80.1 (3f5fd8dd4 2024-08-06)" -> "1.63.0" / "1.80.1"
    return _rustc_version(rustc).splitlines()[0].split()[1]


class RustToolchain(Toolchain):
    language = "rust"
    install_hint = INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        rustc = find_rustc()
        version = None
        if rustc:
            try:
                version = _short_version(rustc)
            except ToolchainError:  # a broken install is reported as not found, with the hint
                rustc = None
        return ToolchainStatus(self.language, rustc is not None, version, rustc, self.install_hint)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        if find_rustc():
            return
        apt = which("apt-get")
        if not (Path("/etc/debian_version").is_file() and apt and os.geteuid() == 0):
            raise ToolchainError(f"no rustc with the {TARGET} standard library found; install one: {INSTALL_HINT}")
        packages = " ".join(APT_PACKAGES)
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        progress(f"installing {packages} with apt-get …")
        try:
            run_tool([apt, "install", "-y", *APT_PACKAGES], env=env, what=f"apt-get install {packages}")
        except ToolchainError:
            progress("apt-get install failed; refreshing the package lists (apt-get update) and retrying …")
            run_tool([apt, "update"], env=env, what="apt-get update")
            run_tool([apt, "install", "-y", *APT_PACKAGES], env=env, what=f"apt-get install {packages}")
        find_rustc.cache_clear()
        if not find_rustc():
            raise ToolchainError(f"installed {packages}, yet no rustc for {TARGET} was found; {INSTALL_HINT}")
        progress(f"installed {packages}")

    def version(self) -> str:
        return f"rustc {_short_version(self._rustc())}"

    def _rustc(self) -> str:
        rustc = find_rustc()
        if rustc is None:
            raise ToolchainError(f"no rustc with the {TARGET} standard library found; {INSTALL_HINT}")
        return rustc

    def pdk_rlib(self, rustc: str, optimize: str, progress: Progress = _quiet) -> Path:
        """The PDK compiled for `rustc`, from the cache or built now (atomically)."""
        pdk = pdk_dir(self.language)
        digest = hashlib.sha256()
        digest.update(_rustc_version(rustc).encode())
        digest.update(optimize.encode())
        for path in sorted((pdk / "src").rglob("*.rs")):
            digest.update(path.relative_to(pdk).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        rlib = cache_dir() / "rust" / f"extism_pdk-{digest.hexdigest()[:20]}" / "libextism_pdk.rlib"
        if rlib.is_file():
            return rlib
        progress(f"rust: compiling the PDK ({pdk})")
        rlib.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=rlib.parent) as tmp:
            out = Path(tmp) / rlib.name
            run_tool(
                [
                    rustc,
                    *_common_args(optimize),
                    "--crate-type=rlib",
                    "--crate-name=extism_pdk",
                    f"--remap-path-prefix={pdk}=extism_pdk",
                    "-o",
                    out,
                    pdk / "src" / "lib.rs",
                ],
                cwd=pdk,  # the debug info's compilation dir, remapped like the sources
                what="rust PDK build",
                error=BuildError,
            )
            out.replace(rlib)
        return rlib

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        rustc = self._rustc()
        clock = Stopwatch()
        rlib = self.pdk_rlib(rustc, request.optimize, progress)
        project = request.project_dir.resolve()
        root = _crate_root(request, project)
        args = [
            *_common_args(request.optimize),
            "--crate-type=cdylib",
            # A fixed crate name: the module's bytes never depend on the directory's name.
            "--crate-name=plugin",
            f"--remap-path-prefix={project}=.",
            f"--remap-path-prefix={pdk_dir(self.language)}=extism_pdk",
            "--extern",
            f"extism_pdk={rlib}",
            *([] if request.optimize == "debug" else ["-C", "lto", "-C", "strip=symbols"]),
            *[f"-Clink-arg=--export={name}" for name in request.exports],
            *request.extra_args,
        ]
        request.output.parent.mkdir(parents=True, exist_ok=True)
        progress(f"rust: compiling {project}")
        with tempfile.TemporaryDirectory(dir=request.output.parent, prefix=".rustc-") as tmp:
            out = Path(tmp) / "plugin.wasm"
            log = run_tool([rustc, *args, "-o", out, root], cwd=project, what="rust build", error=BuildError)
            if not out.is_file():
                raise BuildError(f"rust build: rustc reported success but wrote no {out.name}")
            out.replace(request.output)
        data = request.output.read_bytes()
        return BuildResult(
            wasm=request.output,
            wasi=imports_wasi(data),
            toolchain="rustc",
            toolchain_version=_short_version(rustc),
            seconds=clock.seconds,
            log=log,
            # no cargo, no crates: the PDK and the standard library are all a module links
            bom=[platform_pdk(self.language), bom.entry("stdlib", "rust/std", _short_version(rustc))],
        )


def _common_args(optimize: str) -> list[str]:
    return [
        "--edition=2021",
        f"--target={TARGET}",
        "-C",
        f"opt-level={OPT_LEVELS[optimize]}",
        "-C",
        "panic=abort",
        *(["-C", "debuginfo=2"] if optimize == "debug" else []),
    ]


def _crate_root(request: BuildRequest, project: Path) -> str:
    """The plug-in's crate root: the request's one source (or its `lib.rs`), else `src/lib.rs`,
    else `lib.rs`; relative to the project so no absolute path reaches the compiler."""
    if request.sources:
        roots = [Path(s) for s in request.sources]
        if len(roots) > 1:
            roots = [p for p in roots if p.name == "lib.rs"]
        if len(roots) != 1:
            raise BuildError(f"{project}: give rust one crate root (lib.rs), not {len(request.sources)} sources")
        root = roots[0] if roots[0].is_absolute() else project / roots[0]
    else:
        candidates = [project / "src" / "lib.rs", project / "lib.rs"]
        root = next((p for p in candidates if p.is_file()), None)
        if root is None:
            raise BuildError(f"{project}: no crate root (src/lib.rs or lib.rs)")
    return os.path.relpath(root, project)
