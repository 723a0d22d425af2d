"""The JavaScript driver bundles TypeScript (and module-using) entries with esbuild, type-checks
`.ts` with tsc, and embeds the bundle like a plain script — through the real CLI and host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hatch_extism.toolchains import get_toolchain
from hatch_extism.toolchains.javascript import _bundler_ready, bundler_dir
from tests.conftest import run_cli

PLUGIN_YAML = """\
name: ts-demo
version: 0.1.0
description: A TypeScript plugin importing a local module
language: javascript
wasi: true
exports:
  - name: greet
"""

UTIL_TS = """\
export function shout(name: string): string {
  return `HELLO, ${name.toUpperCase()}!`;
}
"""

INDEX_TS = """\
import { shout } from "./util.ts";

interface Args {
  name: string;
}

export function greet(): { greeting: string } {
  const args = Host.inputJSON() as Args;
  if (typeof args.name !== "string") throw new Host.Error('missing "name"');
  return { greeting: shout(args.name) };
}
"""


@pytest.fixture(scope="module", autouse=True)
def _toolchain() -> None:
    status = get_toolchain("javascript").detect()
    if not status.found:
        pytest.skip(f"no javascript toolchain: {status.install_hint}")
    if not _bundler_ready(bundler_dir()) and not (shutil.which("npm") and shutil.which("node")):
        pytest.skip("bundling needs esbuild/typescript from npm, and npm is not on PATH")
    if not shutil.which("node"):
        pytest.skip("type-checking TypeScript needs node")


def plugin_cli(*args: str, cwd: Path):
    return run_cli("-m", "extism_platform.cli.plugin", *args, cwd=cwd)


def make_project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "plugin.yaml").write_text(PLUGIN_YAML)
    (root / "src" / "util.ts").write_text(UTIL_TS)
    (root / "src" / "index.ts").write_text(INDEX_TS)
    return root


def test_typescript_project_with_a_local_import_builds_and_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "demo")
    build = plugin_cli("build", "--unsigned", cwd=project)
    assert build.returncode == 0, build.stderr
    wasm = project / "dist" / "ts-demo-0.1.0.wasm"
    first = wasm.read_bytes()

    call = plugin_cli("call", str(wasm), "greet", "--input", '{"name": "Ada"}', cwd=project)
    assert call.returncode == 0, call.stderr
    assert json.loads(call.stdout) == {"greeting": "HELLO, ADA!"}

    again = plugin_cli("build", "--unsigned", cwd=project)  # reproducible
    assert again.returncode == 0, again.stderr
    assert wasm.read_bytes() == first


def test_a_type_error_fails_the_build_naming_file_and_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "broken")
    (project / "src" / "util.ts").write_text(UTIL_TS.replace("  return", "  const n: number = name;\n  return"))
    build = plugin_cli("build", "--unsigned", cwd=project)
    assert build.returncode != 0
    message = build.stderr.strip()
    assert "src/util.ts:2:" in message, message
    assert "TS2322" in message and len(message.splitlines()) <= 3, message
    assert not (project / "dist" / "ts-demo-0.1.0.wasm").exists()
