"""Project sessions: `nox -s build-all conformance`, `nox -s tests`, `nox -s lint`.

Every session installs this project (editable) into its own virtualenv; toolchains and compiler
caches live in the platform cache (`$EXTISM_PLATFORM_CACHE`, default `~/.cache/extism-platform`),
so they are shared between sessions and reused across runs.
"""

from __future__ import annotations

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
    session.run("python", "-m", "conformance", "build", *session.posargs)


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """Run the spec against every built plugin; write build/conformance/report.json and report.md."""
    _install(session)
    session.run("python", "-m", "conformance", "matrix", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The project's pytest suite (compiler-backed tests build once per session, cached)."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print tables, write build/bench/*.json (ratios against a baseline of the same run)."""
    _install(session)
    session.run("python", "-m", "conformance", "build")
    session.run("python", "-m", "benchmarks.pdk")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the Python code."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
