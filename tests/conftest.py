"""Shared fixtures: compiler-backed builds happen once per test session and are cached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `python -m …` / a console script the way a user would, capturing output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, text=True, capture_output=True, timeout=timeout
    )


class ConformanceBuilds:
    """Builds each language's conformance plugin at most once per session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Path] = {}

    def get(self, lang: str) -> Path:
        if lang not in self._built:
            from conformance.matrix import build

            record = build(lang, self.root)
            self._built[lang] = Path(record["wasm"])
        return self._built[lang]


@pytest.fixture(scope="session")
def conformance_builds(tmp_path_factory: pytest.TempPathFactory) -> ConformanceBuilds:
    return ConformanceBuilds(tmp_path_factory.mktemp("conformance-builds"))


@pytest.fixture(scope="session")
def platform_find_links(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A wheel of this checkout, and the env that lets `hatch build`'s isolated environment
    install it by name (generated projects require `extism-platform>=X.Y`, never a path): what a
    user's index does once the platform is published."""
    import subprocess
    import sys

    wheels = tmp_path_factory.mktemp("platform-wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            str(ROOT),
            "-w",
            str(wheels),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"PIP_FIND_LINKS": str(wheels), "UV_FIND_LINKS": str(wheels)}
