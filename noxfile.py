"""Project sessions: `nox -s build-all conformance`, `nox -s tests`, `nox -s lint`.

Every session installs this project (editable) into its own virtualenv; toolchains and compiler
caches live in the platform cache (`$EXTISM_PLATFORM_CACHE`, default `~/.cache/extism-platform`),
so they are shared between sessions and reused across runs.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(name="build-all", python=PYTHON)
def build_all(session: nox.Session) -> None:
    """Build every PDK's conformance plugin into build/conformance/<lang>/conformance.wasm."""
    _install(session)
    _ensure_jvm(session)
    session.run("python", "-m", "conformance", "build", *session.posargs)


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """Run the spec against every built plugin; write build/conformance/report.json and report.md."""
    _install(session)
    session.run("python", "-m", "conformance", "matrix", *session.posargs)


def _apt_install(session: nox.Session, *packages: str) -> None:
    """Install Debian packages when we can (root on Debian); otherwise the tests that need them
    skip and say why."""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return
    quiet = {"DEBIAN_FRONTEND": "noninteractive"}
    install = ("apt-get", "install", "-y", "-qq", *packages)
    # A fresh machine's package lists may be stale or empty: update once if the first try fails.
    if session.run(*install, external=True, env=quiet, silent=True, success_codes=[0, 100]) is False:
        return
    session.run("apt-get", "update", "-qq", external=True, env=quiet, silent=True, success_codes=[0, 100])
    session.run(*install, external=True, env=quiet, silent=True, success_codes=[0, 100])


def _ensure_jvm(session: nox.Session) -> None:
    """Java (TeaVM) and Kotlin/Wasm compile on the machine's JDK with jars that Maven fetches."""
    if not (shutil.which("javac") and shutil.which("mvn")):
        session.log("installing Debian's JDK 17 and Maven for the Java and Kotlin PDKs …")
        _apt_install(session, "openjdk-17-jdk-headless", "maven")


def _ensure_chromium(session: nox.Session) -> None:
    """The registry site's browser test needs Debian's chromium; install it when we can (root on
    Debian), otherwise that one test skips and says why."""
    if shutil.which("chromium") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    session.log("installing Debian's chromium for the site's browser test …")
    quiet = {"DEBIAN_FRONTEND": "noninteractive"}
    install = ("apt-get", "install", "-y", "-qq", "chromium")
    # A fresh machine's package lists may be stale or empty: update once if the first try fails.
    session.run(*install, external=True, env=quiet, silent=True, success_codes=[0, 100])
    if not shutil.which("chromium"):
        session.run("apt-get", "update", "-qq", external=True, env=quiet, silent=True)
        session.run(*install, external=True, env=quiet, silent=True)


def _ensure_redis(session: nox.Session) -> None:
    """The kv-on-Redis tests start Debian's redis-server on 127.0.0.1; install it when we can (root
    on Debian), otherwise those tests skip and say why."""
    if not shutil.which("redis-server"):
        session.log("installing Debian's redis-server for the kv-on-Redis tests …")
        _apt_install(session, "redis-server")


def _ensure_docker_registry(session: nox.Session) -> None:
    """The publish tests push to Debian's docker-registry (the CNCF distribution registry) and to a git
    remote, each started by the test on 127.0.0.1; install them when we can (root on Debian), otherwise
    those tests skip and say why. Debian's package enables a service on :5000: it is stopped and disabled
    again, the tests start their own with a throw-away config."""
    missing = [pkg for pkg, exe in (("docker-registry", "docker-registry"), ("git", "git")) if not shutil.which(exe)]
    if not missing or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    session.log(f"installing Debian's {' and '.join(missing)} for the publish tests …")
    _apt_install(session, *missing)
    if "docker-registry" in missing and shutil.which("systemctl"):
        session.run(
            "systemctl", "disable", "--now", "docker-registry", external=True, silent=True, success_codes=[0, 1]
        )


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The project's pytest suite (compiler-backed tests build once per session, cached)."""
    _install(session)
    _ensure_jvm(session)
    _ensure_chromium(session)
    _ensure_redis(session)
    _ensure_docker_registry(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Build the example plugins, publish them to a local registry directory and call every tool
    through a real MCP client (`nox -s demo -- --serve` serves them over MCP until Ctrl-C)."""
    _install(session)
    args = list(session.posargs)
    if "--serve" in args:
        args.remove("--serve")
    else:
        args.insert(0, "--check")
    session.run("python", "-m", "extism_platform.demo", *args)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """A real Mastra agent (npm @mastra/mcp 2.0.0, node >= 22.13 from npm if needed) and the Python MCP client."""
    _install(session)
    session.run("pytest", "-m", "e2e", "tests/e2e", "tests/run/test_mcp.py", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print tables, write build/bench/*.json (ratios against a baseline of the same run)."""
    _install(session)
    session.run("python", "-m", "conformance", "build")
    session.run("python", "-m", "benchmarks.pdk")
    session.run("python", "-m", "benchmarks.host")
    # ours vs a bare Python mcp server vs hyper-mcp built from source ($HYPER_MCP_SRC, else the one built last time)
    session.run("python", "-m", "benchmarks.servers")
    session.run("python", "-m", "benchmarks.resolver")  # 10,000 packages × 10 versions (generated once)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, the import contract (lint-imports) and mypy (settings in pyproject.toml)."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")
    session.run("mypy")
