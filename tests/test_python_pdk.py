"""The Python PDK from the outside: an uncaught exception reaches the host as "<Type>: <message>"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hatch_extism.toolchains import get_toolchain
from tests.conftest import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "python-plugin"


@pytest.fixture(scope="module")
def wasm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not get_toolchain("python").detect().found:
        get_toolchain("python").ensure_installed()
    project = tmp_path_factory.mktemp("py") / "raiser"
    shutil.copytree(FIXTURE, project)
    proc = run_cli("-m", "extism_platform.cli.plugin", "build", str(project), "--unsigned")
    assert proc.returncode == 0, proc.stderr
    return project / "dist" / "raiser-0.1.0.wasm"


def call(wasm: Path, export: str, text: str):
    return run_cli("-m", "extism_platform.cli.plugin", "call", str(wasm), export, "--input", text)


@pytest.mark.toolchain
def test_a_result(wasm: Path) -> None:
    proc = call(wasm, "divide", "7/2")
    assert proc.returncode == 0 and proc.stdout == "3"


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("export", "text", "message"),
    [
        ("divide", "1/0", "ZeroDivisionError: integer division or modulo by zero"),
        ("divide", "x/1", "ValueError: invalid literal for int() with base 10: 'x'"),
        ("lookup", "zz", "KeyError: 'zz'"),
        ("refuse", "no", "refused: no"),  # extism_pdk.Error: the message alone
    ],
)
def test_exceptions_reach_the_host_with_type_and_text(wasm: Path, export: str, text: str, message: str) -> None:
    proc = call(wasm, export, text)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"extism-plugin: error: {export}: {message}"
