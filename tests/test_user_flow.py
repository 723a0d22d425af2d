"""The author's flow, typed exactly as a user types it, for every language with a PDK:
`extism-plugin init` → `hatch build` → `extism-plugin test` → `extism-plugin verify`; and the
seed's example flow ending in `extism-plugin publish` to a real registry a client then reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hatch_extism.project_init import template_languages
from hatch_extism.toolchains import get_toolchain

BIN = Path(sys.executable).parent
HATCH = shutil.which("hatch") or str(BIN / "hatch")


def _available(lang: str) -> bool:
    try:
        return get_toolchain(lang).detect().found
    except Exception:
        return False


LANGUAGES = [lang for lang in template_languages() if _available(lang)]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, platform_find_links: dict[str, str]) -> dict[str, str]:
    root = tmp_path_factory.mktemp("flow")
    key = root / "author.key"
    proc = subprocess.run([str(BIN / "extism-plugin"), "keygen", "--out", str(key)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return {
        **os.environ,
        **platform_find_links,  # hatch's build env installs this checkout's wheel by name
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HATCH_DATA_DIR": str(root / "hatch-data"),
        "EXTISM_SIGNING_KEY": str(key),
        "AUTHOR_PUB": f"{key}.pub",
    }


def sh(cmd: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"$ {cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.toolchain
@pytest.mark.parametrize("lang", LANGUAGES)
def test_init_hatch_build_test_verify(lang: str, tmp_path: Path, env: dict[str, str]) -> None:
    sh(f"extism-plugin init @flow/hello-{lang} --lang {lang}", tmp_path, env)
    project = tmp_path / f"hello-{lang}"
    sh("hatch build", project, env)
    stem = f"flow-hello-{lang}-0.1.0"
    assert {p.name for p in (project / "dist").glob(f"{stem}.*")} == {
        f"{stem}.wasm",
        f"{stem}.plugin.json",
        f"{stem}.sig",
    }
    result = sh("extism-plugin test --json", project, env)
    assert json.loads(result.stdout)["failed"] == 0
    verified = sh(f'extism-plugin verify dist/{stem}.wasm --key "$AUTHOR_PUB" --json', project, env)
    assert json.loads(verified.stdout)["trusted"] is True


@pytest.mark.toolchain
@pytest.mark.skipif("rust" not in LANGUAGES, reason="no Rust toolchain with the wasm32 target here")
def test_the_seed_flow_ends_in_a_registry(tmp_path: Path, env: dict[str, str]) -> None:
    sh("extism-plugin init --name=weather-tool --lang=rust", tmp_path, env)
    project = tmp_path / "weather-tool"
    sh("extism-plugin test", project, env)
    sh("extism-plugin package", project, env)
    registry = tmp_path / "registry"
    sh(f"extism-registry init {registry}", tmp_path, env)
    sh(f'extism-registry keys add-author {registry} _ "$AUTHOR_PUB"', tmp_path, env)
    out = sh(f"extism-plugin publish --registry {registry} --site", project, env)
    assert "published weather-tool@0.1.0" in out.stdout
    # A client reads it back through TUF and the author's signature.
    from registry_static.client import RegistryClient

    client = RegistryClient(registry.as_uri(), cache_dir=tmp_path / "cache")
    fetched = client.fetch("weather-tool", client.resolve("weather-tool", "^0.1").version)
    assert fetched.wasm == (project / "dist" / "weather-tool-0.1.0.wasm").read_bytes()
    again = subprocess.run(
        "extism-plugin publish --registry " + str(registry),
        shell=True,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1, again.stderr
