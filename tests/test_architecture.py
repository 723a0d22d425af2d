"""The layout holds: the import contract (pyproject's [tool.importlinter]) and a server that
loads nothing of the build side."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def test_import_contract_is_kept() -> None:
    proc = subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_the_mcp_server_loads_nothing_of_the_build_side() -> None:
    code = (
        "import extism_platform.mcp.server, extism_platform.cli.mcp_server, sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hatch_extism', 'hatchling')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_every_console_script_has_version() -> None:
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for name, target in scripts.items():
        module = target.split(":")[0]
        proc = subprocess.run(
            [sys.executable, "-c", f"import sys, {module} as m; sys.argv[0] = {name!r}; m.main(['--version'])"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (name, proc.stderr)
        assert proc.stdout.split()[0] == name and proc.stdout.split()[1][0].isdigit(), proc.stdout
