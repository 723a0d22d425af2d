"""`extism-plugin toolchains` tells the truth, also on a machine where compilers are missing."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

from tests.conftest import run_cli


def toolchains(env: dict[str, str]) -> dict[str, dict]:
    proc = run_cli("-m", "extism_platform.cli.plugin", "toolchains", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return {row["language"]: row for row in json.loads(proc.stdout)}


def test_every_language_is_listed_with_a_hint() -> None:
    rows = toolchains({})
    assert {"c", "cpp", "zig", "go", "rust", "typescript", "kotlin", "java", "ruby"} <= set(rows)
    for row in rows.values():
        assert row["install_hint"], row
        if row["found"]:
            assert row["version"] and row["location"]


def test_missing_compilers_are_reported_missing(tmp_path: Path) -> None:
    # An empty platform cache and a PATH with python only: no go, no node, no npm.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = shutil.which("python3") or "python3"
    (bin_dir / "python3").symlink_to(python)
    env = {"EXTISM_PLATFORM_CACHE": str(tmp_path / "cache"), "PATH": str(bin_dir), "RUSTC": "", "JAVA_HOME": ""}
    rows = toolchains(env)
    assert rows["go"]["found"] is False and "go" in rows["go"]["install_hint"].lower()
    assert rows["typescript"]["found"] is False
    # No java on this PATH (and an empty cache): Kotlin is missing, and the hint names what to install.
    assert rows["kotlin"]["found"] is False and "jdk" in rows["kotlin"]["install_hint"].lower()
    assert rows["ruby"]["found"] is False and "npm" in rows["ruby"]["install_hint"]
    assert rows["java"]["found"] is False and "JDK" in rows["java"]["install_hint"]
    zig_in_env = importlib.util.find_spec("ziglang") is not None
    for lang in ("c", "cpp", "zig"):
        assert rows[lang]["found"] is zig_in_env, rows[lang]
        assert "ziglang" in rows[lang]["install_hint"]
    # Debian's rustc lives in /usr/bin, outside this PATH: found only through that absolute path.
    has_debian_rust = os.path.isdir("/usr/lib/rustlib/wasm32-unknown-unknown")
    assert rows["rust"]["found"] is has_debian_rust
