"""Kotlin driver: Kotlin/Wasm (the wasm-wasi target) on the machine's JDK.

Where the compiler comes from: Maven Central's `org.jetbrains.kotlin:kotlin-compiler-embeddable`
and the `kotlin-stdlib-wasm-wasi` klib of the same pinned version, resolved by the machine's Maven
(`mvn dependency:copy-dependencies` on a generated pom, with a private local repository) into
the platform cache (`kotlin/compiler-<version>/lib/`), staged and renamed into place whole. A
tiny launcher (pdks/kotlin/launcher/ExtismKotlinc.java) is compiled there with `javac` at the same
time. The JDK (`java`, `javac`; `$JAVA_HOME` first, then PATH) and `mvn` are the machine's.

A project is Kotlin sources: every `*.kt` under `src/` (or the project directory when it has no
`src/`); `sources=[…]` names them instead. Exports are `@WasmExport` functions returning `Int`,
kernel functions are the PDK's (package `extism.pdk`, pdks/kotlin/src), user host functions
`@WasmImport("extism:host/user", …) external fun`. A build is two compiler runs in one JVM: the
plugin's sources into a klib, then that klib (`-Xinclude`) linked with the standard library and
the PDK into the module, with Kotlin's dead-code elimination (`-Xir-dce`; not for "debug"), which
takes a small plugin from ~620 KB to ~100–250 KB. The PDK is compiled into a klib once per
compiler version and PDK source (`kotlin/pdk/`), so a build compiles only the plugin.

The module uses Wasm GC and exception handling: the Extism runtime (wasmtime) runs it; wazero-based
hosts cannot. It imports `wasi_snapshot_preview1.random_get` (the standard library's seed), so it
loads with WASI. `extra_args` go to the compile step (e.g. `-language-version`, `-opt-in=…`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
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
    run_tool,
    staged_install,
    which,
)
from hatch_extism.toolchains.bom_readers import platform_pdk
from hatch_extism.toolchains.jvm import MavenArtifact, copy_dependencies, jdk_tool
from plugin_format import bom
from plugin_format.errors import BuildError, ToolchainError
from plugin_format.paths import cache_dir
from plugin_format.wasm import imports_wasi

#: The pinned compiler and standard library (one version that exists for both: not every patch
#: release of the compiler has a wasm-wasi stdlib). Changing it changes every module's bytes.
KOTLIN_VERSION = "2.4.20"
#: The oldest JDK the Kotlin 2.4 compiler runs on.
MIN_JAVA = 11
INSTALL_HINT = (
    f"needs a JDK >= {MIN_JAVA} (java, javac) and Maven (mvn), e.g. `apt-get install openjdk-17-jdk-headless "
    f"maven`; then `extism-plugin toolchains --install kotlin` fetches Kotlin {KOTLIN_VERSION} "
    "(compiler + wasm-wasi stdlib, ~70 MB) from Maven Central into the platform cache"
)

_GROUP = "org.jetbrains.kotlin"
_STDLIB = f"kotlin-stdlib-wasm-wasi-{KOTLIN_VERSION}.klib"
_COMPILER_JAR = f"kotlin-compiler-embeddable-{KOTLIN_VERSION}.jar"
_LAUNCHER = "ExtismKotlinc"
#: The compiler is short-lived: the C1 JIT alone and the serial collector cost half the CPU
#: time of the default tiered JIT on 2 cores (measured: 12 s instead of 26 s for a build). A
#: larger initial metaspace avoids the three full collections that loading the compiler's classes
#: otherwise triggers (~0.5 s).
_JVM_FLAGS = (
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-XX:MetaspaceSize=256m",
    "-Xss16m",
    "-Djava.awt.headless=true",
)
#: Every compiler run: the target, and `@WasmImport`/`@WasmExport` without an opt-in per file.
_COMMON_FLAGS = ("-Xwasm-target=wasm-wasi", "-opt-in=kotlin.wasm.ExperimentalWasmInterop")
_LINK_FLAGS = {"small": ("-Xir-dce",), "speed": ("-Xir-dce",), "debug": ("-Xwasm-debug-info",)}
_SKIP_DIRS = {"build", "dist", "out", "node_modules", ".gradle", ".kotlin", ".git"}
_JAVA_VERSION_RE = re.compile(r'version "(\d+)(?:\.(\d+))?')


def install_dir() -> Path:
    return cache_dir() / "kotlin" / f"compiler-{KOTLIN_VERSION}"


def _installed(root: Path) -> bool:
    lib = root / "lib"
    return all(p.is_file() for p in (lib / _COMPILER_JAR, lib / _STDLIB, root / "launcher" / f"{_LAUNCHER}.class"))


@lru_cache(maxsize=4)
def _java_version(java: str) -> int | None:
    """The major version of a `java` binary (17 for "17.0.15", 8 for "1.8.0"), None if it cannot run."""
    try:
        out = subprocess.run(
            [java, "-version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _JAVA_VERSION_RE.search(out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _find_java() -> tuple[str, int] | None:
    java = jdk_tool("java")
    if java is None:
        return None
    version = _java_version(java)
    return (java, version) if version is not None and version >= MIN_JAVA else None


def _require_java() -> tuple[str, int]:
    found = _find_java()
    if found is None:
        raise ToolchainError(f"no Java >= {MIN_JAVA} found; {INSTALL_HINT}")
    return found


def _classpath(root: Path) -> str:
    jars = sorted((root / "lib").glob("*.jar"))
    return os.pathsep.join([str(root / "launcher"), *map(str, jars)])


class KotlinToolchain(Toolchain):
    language = "kotlin"
    install_hint = INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        root = install_dir()
        found = _find_java() is not None and _installed(root)
        version = self.version() if found else None
        return ToolchainStatus(self.language, found, version, str(root) if found else None, self.install_hint)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        _require_java()
        target = install_dir()
        if _installed(target):
            return
        mvn, javac = which("mvn"), jdk_tool("javac")
        if mvn is None or javac is None:
            missing = " and ".join(n for n, p in (("mvn", mvn), ("javac", javac)) if p is None)
            raise ToolchainError(f"cannot install Kotlin {KOTLIN_VERSION}: no {missing}; {INSTALL_HINT}")
        progress(f"downloading Kotlin {KOTLIN_VERSION} (compiler + wasm-wasi stdlib, ~70 MB) with Maven into {target}")
        with staged_install(target, ready=_installed, what=f"Kotlin {KOTLIN_VERSION}") as stage:
            # A private local repository: nothing is shared with (or left in) ~/.m2, and the
            # downloaded copies go away with the staging folder once lib/ holds the jars.
            copy_dependencies(
                mvn,
                stage,
                artifact_id="kotlin-toolchain",
                version=KOTLIN_VERSION,
                dependencies=[
                    MavenArtifact(_GROUP, "kotlin-compiler-embeddable", KOTLIN_VERSION),
                    MavenArtifact(_GROUP, "kotlin-stdlib-wasm-wasi", KOTLIN_VERSION, "klib"),
                ],
                repo=stage / "m2",
                what=f"mvn: resolving Kotlin {KOTLIN_VERSION}",
                timeout=1800,
            )
            shutil.rmtree(stage / "m2", ignore_errors=True)
            source = pdk_dir("kotlin") / "launcher" / f"{_LAUNCHER}.java"
            run_tool(
                [javac, "-nowarn", "-cp", _classpath(stage), "-d", stage / "launcher", source],
                what="javac: compiling the Kotlin compiler launcher",
            )
        progress(f"installed Kotlin {KOTLIN_VERSION}")

    def version(self) -> str:
        java = _find_java()
        jdk = f", JDK {java[1]}" if java else ""
        return f"Kotlin/Wasm {KOTLIN_VERSION}{jdk}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        if request.optimize not in _LINK_FLAGS:
            raise BuildError(f"unknown optimize mode {request.optimize!r} (small, speed or debug)")
        java, _ = _require_java()
        root = install_dir()
        project = request.project_dir.resolve()
        sources = _sources(project, request.sources)
        clock = Stopwatch()
        request.output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="extism-kotlin-") as scratch:
            work = Path(scratch)
            pdk, pdk_step = _pdk_klib(root, work)
            stdlib = root / "lib" / _STDLIB
            libraries = os.pathsep.join(map(str, (stdlib, pdk)))
            klib_dir, wasm_dir = work / "klib", work / "wasm"
            compile_args = [
                *_COMMON_FLAGS,
                "-libraries", libraries,
                "-ir-output-dir", klib_dir,
                "-ir-output-name", "plugin",
                "-Xir-module-name=plugin",
                # Paths in the klib relative to the project: the module's bytes do not depend on where it is.
                f"-Xklib-relative-path-base={project}",
                *request.extra_args,
                *sources,
            ]  # fmt: skip
            link_args = [
                *_COMMON_FLAGS,
                "-libraries", libraries,
                "-Xir-produce-js",
                f"-Xinclude={klib_dir / 'plugin.klib'}",
                "-ir-output-dir", wasm_dir,
                "-ir-output-name", "plugin",
                *_LINK_FLAGS[request.optimize],
            ]  # fmt: skip
            steps = [*pdk_step, _argfile(work / "compile.args", compile_args), _argfile(work / "link.args", link_args)]
            what = "kotlin: compiling the PDK and " if pdk_step else "kotlin: compiling "
            progress(f"{what}{len(sources)} source file(s) of {request.project_dir}")
            log = run_tool(
                [java, *_JVM_FLAGS, "-cp", _classpath(root), _LAUNCHER, *steps],
                cwd=project,
                what="kotlin compile",
                error=BuildError,
            )
            if pdk_step:
                _keep_pdk_klib(work / "pdk" / "extism-pdk.klib")
            built = wasm_dir / "plugin.wasm"
            if not built.is_file():
                raise BuildError(f"the Kotlin compiler reported success but wrote no {built.name}")
            data = built.read_bytes()
        tmp = request.output.with_name(request.output.name + ".tmp")
        tmp.write_bytes(data)
        move_into_place(
            tmp,
            request,
            compiler="the Kotlin compiler",
            what="kotlin",
            hint='mark each with @WasmExport("NAME") on a top-level fun returning Int',
        )
        return BuildResult(
            wasm=request.output,
            wasi=imports_wasi(data),
            toolchain="kotlin",
            toolchain_version=self.version(),
            seconds=clock.seconds,
            log=log,
            bom=[bom.entry("maven", f"{_GROUP}:kotlin-stdlib-wasm-wasi", KOTLIN_VERSION), platform_pdk(self.language)],
        )


def _sources(project: Path, given: Sequence[Path]) -> list[Path]:
    """The `.kt` files to compile: `given` (relative to the project), else every one under src/ (or the project)."""
    if given:
        files = [(project / s).resolve() for s in given]
        absent = [str(f) for f in files if not f.is_file()]
        if absent:
            raise BuildError(f"kotlin: no such source file: {', '.join(absent)}")
        return files
    base = project / "src" if (project / "src").is_dir() else project
    found: list[Path] = []
    for directory, subdirs, names in os.walk(base):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS and not d.startswith("."))
        found += [Path(directory) / n for n in sorted(names) if n.endswith(".kt")]
    if not found:
        raise BuildError(f"{base}: no Kotlin sources (*.kt) to build")
    return found


def _argfile(path: Path, args: Sequence[str | os.PathLike[str]]) -> str:
    """Write one compiler run's arguments, one a line and quoted (paths may hold spaces)."""
    quoted = ['"' + str(a).replace("\\", "\\\\").replace('"', '\\"') + '"' for a in args]
    path.write_text("\n".join(quoted) + "\n", encoding="utf-8")
    return str(path)


def _pdk_sources() -> list[Path]:
    return sorted((pdk_dir("kotlin") / "src").rglob("*.kt"))


def _pdk_klib_path() -> Path:
    """Where the PDK's klib is cached: keyed by the compiler version, the flags and every PDK source."""
    digest = hashlib.sha256(f"{KOTLIN_VERSION}\0{' '.join(_COMMON_FLAGS)}\0".encode())
    pdk_src = pdk_dir("kotlin") / "src"
    for source in _pdk_sources():
        digest.update(source.relative_to(pdk_src).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return cache_dir() / "kotlin" / "pdk" / f"extism-pdk-{digest.hexdigest()[:20]}.klib"


def _pdk_klib(root: Path, work: Path) -> tuple[Path, list[str]]:
    """The PDK's klib for this build, and the compiler run that makes it when it is not cached yet
    (none when it is: the build then compiles only the plugin)."""
    cached = _pdk_klib_path()
    if cached.is_file():
        return cached, []
    pdk_src = pdk_dir("kotlin") / "src"
    args = [
        *_COMMON_FLAGS,
        "-libraries", root / "lib" / _STDLIB,
        "-ir-output-dir", work / "pdk",
        "-ir-output-name", "extism-pdk",
        "-Xir-module-name=extism-pdk",
        f"-Xklib-relative-path-base={pdk_src}",
        *_pdk_sources(),
    ]  # fmt: skip
    # This build links the klib it is making; _keep_pdk_klib caches it afterwards.
    return work / "pdk" / "extism-pdk.klib", [_argfile(work / "pdk.args", args)]


def _keep_pdk_klib(made: Path) -> None:
    """Copy a freshly compiled PDK klib into the cache, renamed into place: concurrent builds
    never see half a file (they may both write it; the bytes are the same)."""
    cached = _pdk_klib_path()
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(made, tmp)
        os.replace(tmp, cached)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
