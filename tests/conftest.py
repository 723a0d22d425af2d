"""Shared fixtures: compiler-backed builds happen once per test session and are cached."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for servers that cannot bind 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a server the test started: SIGTERM, then SIGKILL after `timeout` seconds; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def run_cli(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run `python -m …` / a console script the way a user would, capturing output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, text=True, capture_output=True, timeout=timeout
    )


@pytest.fixture(scope="session", autouse=True)
def _own_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's kv stores, install records and audit logs go to a directory of its own, never
    the machine's default state dir (a test that needs its own passes `--state-dir` or sets
    $EXTISM_PLATFORM_STATE itself). Set in os.environ, so the CLIs the tests start inherit it."""
    from plugin_format.paths import STATE_ENV

    before = os.environ.get(STATE_ENV)
    if before:
        yield
        return
    os.environ[STATE_ENV] = str(tmp_path_factory.mktemp("state"))
    try:
        yield
    finally:
        os.environ.pop(STATE_ENV, None)


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


OFFICIAL_AS_PDK = "@extism/as-pdk@1.0.0"

#: A plugin on the official AssemblyScript PDK, written as its examples are: plain-text input,
#: its own abort handler (that PDK has none), named in plugin.yaml's `build.abort`.
OFFICIAL_AS_SOURCE = """
import { Host, Memory } from "@extism/as-pdk";

@external("extism:host/env", "error_set")
declare function error_set(offset: u64): void;

function myAbort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  error_set(Memory.allocateString(message === null ? "abort" : message).offset);
  unreachable();
}

export function count_vowels(): i32 {
  const text = Host.inputString();
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i).toLowerCase();
    if (c == "a" || c == "e" || c == "i" || c == "o" || c == "u") count += 1;
  }
  Host.outputString('{"count":' + count.toString() + ',"text":"' + text + '"}');
  return 0;
}

export function fail(): i32 {
  throw new Error("fail: " + Host.inputString());
}
"""


def official_as_project(root: Path, abort: str | None = "assembly/index/myAbort") -> Path:
    """A project on npm's `@extism/as-pdk` (installed into its node_modules with npm), with the
    given `build.abort` (None: the setting left out)."""
    import shutil

    npm = shutil.which("npm")
    if not npm:
        pytest.skip("npm is not on PATH: cannot install @extism/as-pdk")
    project = root / ("as-pdk-" + (abort or "default").replace("/", "-"))
    (project / "assembly").mkdir(parents=True)
    (project / "assembly" / "index.ts").write_text(OFFICIAL_AS_SOURCE)
    (project / "package.json").write_text('{"name": "count-vowels", "version": "0.1.0", "private": true}\n')
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", OFFICIAL_AS_PDK],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"npm install {OFFICIAL_AS_PDK} failed: {proc.stderr.strip()[-300:]}")
    build = f"build: {{abort: {abort}}}\n" if abort else ""
    (project / "plugin.yaml").write_text(
        f"name: count-vowels\nversion: 0.1.0\nlanguage: typescript\n{build}"
        "exports:\n  - name: count_vowels\n    input: text\n  - name: fail\n    input: text\n"
    )
    return project


@pytest.fixture(scope="session")
def official_as_pdk_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module of `official_as_project`, built once per session by the TypeScript driver
    (unsigned): a module an official Extism PDK made."""
    from hatch_extism.build import build_artifacts
    from plugin_format.manifest import load_manifest

    project = official_as_project(tmp_path_factory.mktemp("official-as-pdk"))
    return build_artifacts(load_manifest(project), project / "dist", key=None).wasm
