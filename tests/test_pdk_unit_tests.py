"""PDKs' own host-side unit tests (pure logic such as request encoding), run with their language's
test runner."""

from __future__ import annotations

import os
import subprocess

import pytest

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains import get_toolchain
from plugin_format.paths import cache_dir


@pytest.mark.toolchain
def test_go_pdk_unit_tests() -> None:
    status = get_toolchain("go").detect()
    if not status.found:
        pytest.skip(f"no Go toolchain here: {status.install_hint}")
    env = {
        **os.environ,
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(cache_dir() / "go-build"),
    }
    proc = subprocess.run(
        [status.location, "test", "-count=1", "./..."],
        cwd=pdk_dir("go"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok  \textism-platform.dev/pdk" in proc.stdout
