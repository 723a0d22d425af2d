"""Java driver: TeaVM 0.13.1's WASI target, driven by a small launcher of ours.

TeaVM 0.13.x is the last line with a linear-memory WebAssembly backend (0.14 removed it; the Wasm
GC backend that replaced it needs a JavaScript host), and its Maven plugin for 0.13.1 is not
published, so `pdks/java/launcher/ExtismTeaVM.java` calls `org.teavm.tooling.TeaVMTool` itself.

What comes from where:

- the JDK (17 or newer: `java`, `javac`) and Maven (`mvn`) from the machine (Debian:
  `openjdk-17-jdk-headless maven`);
- TeaVM's jars (teavm-tooling, teavm-classlib, teavm-interop 0.13.1 and their dependencies) and
  the teavm-core sources jar, from Maven Central, resolved by `mvn dependency:copy-dependencies`
  over a generated pom. Maven's own repository for this lives in `cache_dir()/java/m2`, the
  copied jars in `cache_dir()/java/teavm-0.13.1/` (installed staged: an interrupted install never
  looks installed);
- the launcher, compiled with the machine's javac once per launcher source, patch and javac
  version, into `cache_dir()/java/launcher-<digest>/`.

The launcher also carries a one-line fix to TeaVM's garbage collector (`org.teavm.runtime.GC`,
compiled from the sources jar with the fix applied and put before TeaVM's own class): when one
allocation needs the heap to grow, 0.13.1 grows it to exactly the size requested, after which the
allocation never succeeds and the call spins until the host's timeout (any `new byte[n]` with n
above the free heap, e.g. a 4 MiB input on the initial 4 MiB heap). The fix asks for 64 KiB more.

A build is one JVM: javac (in process) compiles the PDK's and the project's sources, the launcher
writes the wasm exports around every `@Export` method, and TeaVM compiles the lot. Sources are
every `*.java` under the project's `src/` (or the project directory when it has none);
`sources=[…]` names them instead. `extra_args` go to the launcher (`--min-heap-mib N`,
`--max-heap-mib N`). The module imports WASI (`fd_write`, `clock_time_get`, `args_*`): plugins
need `wasi: true`.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains import jvm
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

#: The pinned compiler. Changing it changes every module's bytes (reproducibility).
TEAVM_VERSION = "0.13.1"
TEAVM_ARTIFACTS = ("teavm-tooling", "teavm-classlib", "teavm-interop")
MIN_JDK = 17
INSTALL_HINT = (
    f"needs a JDK >= {MIN_JDK} (java, javac) and Maven (mvn) on PATH (Debian: apt-get install "
    f"openjdk-17-jdk-headless maven); then `extism-plugin toolchains --install java` fetches TeaVM "
    f"{TEAVM_VERSION} from Maven Central into the platform cache"
)

#: The launcher's main class and source (pdks/java/launcher/).
LAUNCHER_CLASS = "ExtismTeaVM"
#: The fix to TeaVM 0.13.1's GC (see the module docstring): (text in GC.java, its replacement).
GC_SOURCE = "org/teavm/runtime/GC.java"
GC_FIX = ("        return availableBytes() + size;\n", "        return availableBytes() + size + 65536;\n")
#: JVM flags of a build: a short-lived JVM on small CI machines. C1 alone (TieredStopAtLevel=1)
#: halves a build's CPU time (conformance plugin: 7 s instead of 17 s of CPU): C2's compiles
#: never pay off in a run this short.
JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss8m", "-Xmx1g")
#: Folders of a project never searched for sources.
_SKIP_DIRS = {"build", "dist", "target", "node_modules", ".git", ".nox", ".venv"}

_JAVAC_VERSION_RE = re.compile(r"javac (\d+)(?:\.(\d+))?(?:\.(\d+))?")


def java_root() -> Path:
    """Everything the Java driver keeps: Maven's repository, TeaVM's jars, compiled launchers."""
    return cache_dir() / "java"


def install_dir() -> Path:
    return java_root() / f"teavm-{TEAVM_VERSION}"


def _jars(root: Path) -> list[Path]:
    return sorted((root / "lib").glob("*.jar"))


def _installed(root: Path) -> bool:
    names = {jar.name for jar in _jars(root)}
    wanted = {f"{a}-{TEAVM_VERSION}.jar" for a in (*TEAVM_ARTIFACTS, "teavm-core")}
    return wanted <= names and (root / "src" / f"teavm-core-{TEAVM_VERSION}-sources.jar").is_file()


@lru_cache(maxsize=4)
def _javac_version(javac: str) -> tuple[int, str] | None:
    """(feature release, "17.0.15") of a javac, or None when it cannot run."""
    try:
        out = subprocess.run(
            [javac, "-version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _JAVAC_VERSION_RE.search(out)
    if not match:
        return None
    return int(match.group(1)), match.group(0).split()[1]


def _find_jdk() -> tuple[str, str, str] | None:
    """(java, javac, javac version) of a usable JDK, or None."""
    java, javac = jdk_tool("java"), jdk_tool("javac")
    if not (java and javac):
        return None
    probed = _javac_version(javac)
    if probed is None or probed[0] < MIN_JDK:
        return None
    return java, javac, probed[1]


def _require_jdk() -> tuple[str, str, str]:
    found = _find_jdk()
    if found is None:
        javac = jdk_tool("javac")
        probed = _javac_version(javac) if javac else None
        have = f"found javac {probed[1]}" if probed else "no JDK found"
        raise ToolchainError(f"java: {have}; {INSTALL_HINT}")
    return found


class JavaToolchain(Toolchain):
    language = "java"
    install_hint = INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        root = install_dir()
        jdk = _find_jdk()
        found = jdk is not None and _installed(root)
        version = self.version() if found else None
        return ToolchainStatus(self.language, found, version, str(root) if found else None, self.install_hint)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        _require_jdk()
        target = install_dir()
        if _installed(target):
            return
        mvn = which("mvn")
        if mvn is None:
            raise ToolchainError(f"java: TeaVM {TEAVM_VERSION} is not in {target} and there is no mvn to fetch it; "
                                 f"{INSTALL_HINT}")  # fmt: skip
        progress(f"fetching TeaVM {TEAVM_VERSION} (~30 MB of jars) from Maven Central with mvn into {target} …")
        with staged_install(target, ready=_installed, what=f"TeaVM {TEAVM_VERSION}") as stage:
            repo = java_root() / "m2"
            teavm = [MavenArtifact("org.teavm", a, TEAVM_VERSION) for a in TEAVM_ARTIFACTS]
            copy_dependencies(
                mvn, stage, artifact_id="teavm-toolchain", version=TEAVM_VERSION, dependencies=teavm, repo=repo,
                what="mvn dependency:copy-dependencies",
            )  # fmt: skip
            jvm.mvn(
                mvn,
                "dependency:copy",
                f"-Dartifact=org.teavm:teavm-core:{TEAVM_VERSION}:jar:sources",
                f"-DoutputDirectory={stage / 'src'}",
                repo=repo,
                cwd=stage,
                what="mvn dependency:copy",
            )
        progress(f"installed TeaVM {TEAVM_VERSION}")

    def version(self) -> str:
        return f"TeaVM {TEAVM_VERSION}, javac {_require_jdk()[2]}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        java, javac, javac_version = _require_jdk()
        root = install_dir()
        launcher = _launcher(javac, javac_version, root, progress)
        sources = _sources(request)
        pdk_sources = sorted((pdk_dir("java") / "src").rglob("*.java"))
        if not pdk_sources:
            raise BuildError(f"the platform's Java PDK is missing ({pdk_dir('java')}): reinstall extism-platform")
        jars = _jars(root)
        interop = root / "lib" / f"teavm-interop-{TEAVM_VERSION}.jar"
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        progress(f"java: compiling {len(sources)} source file(s) of {request.project_dir} with TeaVM {TEAVM_VERSION}")
        clock = Stopwatch()
        with tempfile.TemporaryDirectory(prefix="extism-java-") as work:
            listing = Path(work) / "sources.txt"
            listing.write_text("".join(f"{p}\n" for p in (*pdk_sources, *sources)), encoding="utf-8")
            classpath = os.pathsep.join(str(p) for p in (launcher / "patch", launcher / "classes", *jars))
            argv = [
                java, *JVM_FLAGS, "-cp", classpath, LAUNCHER_CLASS,
                "--sources", listing, "--work", Path(work) / "build", "--out", tmp, "--interop", interop,
                "--opt", request.optimize, *request.extra_args,
            ]  # fmt: skip
            try:
                log = run_tool(argv, cwd=request.project_dir, what="java build (javac, TeaVM)", error=BuildError)
            except BuildError:
                tmp.unlink(missing_ok=True)
                raise
        data = move_into_place(
            tmp,
            request,
            compiler="TeaVM",
            what="java",
            hint='mark a public static method with @Export(name = "…"), dev.extismplatform.pdk.Export',
        )
        return BuildResult(
            wasm=request.output,
            wasi=imports_wasi(data),
            toolchain="teavm",
            toolchain_version=f"{TEAVM_VERSION} (javac {javac_version})",
            seconds=clock.seconds,
            log=log,
            # TeaVM's class library is what the JDK classes a plugin uses compile from
            bom=[bom.entry("maven", "org.teavm:teavm-classlib", TEAVM_VERSION), platform_pdk(self.language)],
        )


def _sources(request: BuildRequest) -> list[Path]:
    """The project's .java files: the request's, else every one under src/ (or the project)."""
    if request.sources:
        files = [(request.project_dir / s).resolve() for s in request.sources]
        absent = [str(f) for f in files if not f.is_file()]
        if absent:
            raise BuildError(f"java: no such source file: {', '.join(absent)}")
        return files
    base = request.project_dir / "src"
    if not base.is_dir():
        base = request.project_dir
    found = []
    for directory, subdirs, names in os.walk(base):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS and not d.startswith("."))
        found += [Path(directory, n).resolve() for n in sorted(names) if n.endswith(".java")]
    if not found:
        raise BuildError(f"java: no .java files under {base}")
    return found


def _launcher(javac: str, javac_version: str, root: Path, progress: Progress) -> Path:
    """The compiled launcher and GC fix, from the cache or compiled now (about 5 s)."""
    source = pdk_dir("java") / "launcher" / f"{LAUNCHER_CLASS}.java"
    gc_jar = root / "src" / f"teavm-core-{TEAVM_VERSION}-sources.jar"
    digest = hashlib.sha256()
    for part in (TEAVM_VERSION, javac_version, *GC_FIX):
        digest.update(part.encode() + b"\0")
    digest.update(source.read_bytes())
    target = java_root() / f"launcher-{digest.hexdigest()[:20]}"

    def ready(directory: Path) -> bool:
        patched = directory / "patch" / GC_SOURCE.replace(".java", ".class")
        return (directory / "classes" / f"{LAUNCHER_CLASS}.class").is_file() and patched.is_file()

    if ready(target):
        return target
    progress("java: compiling the TeaVM launcher (once)")
    classpath = os.pathsep.join(str(p) for p in _jars(root))
    with staged_install(target, ready=ready, what="the TeaVM launcher") as stage:
        gc_source = stage / "gc-src" / GC_SOURCE
        gc_source.parent.mkdir(parents=True)
        with zipfile.ZipFile(gc_jar) as archive:
            text = archive.read(GC_SOURCE).decode("utf-8")
        if text.count(GC_FIX[0]) != 1:
            raise ToolchainError(f"java: {GC_SOURCE} of TeaVM {TEAVM_VERSION} is not the one the GC fix was made for")
        gc_source.write_text(text.replace(*GC_FIX), encoding="utf-8")
        for out, src in ((stage / "patch", gc_source), (stage / "classes", source)):
            out.mkdir()
            run_tool(
                [javac, "-nowarn", "-encoding", "UTF-8", "-d", out, "-cp", classpath, src],
                what=f"javac {src.name}",
            )
    return target
