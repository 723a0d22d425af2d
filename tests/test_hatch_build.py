"""`hatch build` on a plugin project, exactly as a user types it: signed wasm in dist/ and in the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hatch_extism.project_init import context_for
from tests.conftest import ROOT, run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "c-plugin"
STEM = "fixture-shout-1.0.0"
HATCH = shutil.which("hatch") or str(Path(sys.executable).with_name("hatch"))


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, platform_find_links: dict[str, str]
) -> tuple[Path, Path, dict[str, str]]:
    import jinja2

    root = tmp_path_factory.mktemp("hatch")
    proj = root / "shout"
    shutil.copytree(FIXTURE, proj)
    ctx = context_for("@fixture/shout", "c", None)
    template = (ROOT / "templates" / "_common" / "pyproject.toml.j2").read_text()
    (proj / "pyproject.toml").write_text(jinja2.Template(template).render(**ctx))
    key = root / "author.key"
    assert run_cli("-m", "extism_platform.cli.plugin", "keygen", "--out", str(key)).returncode == 0
    # A private hatch data dir: its build environment installs this checkout's wheel by name.
    env = {
        **os.environ,
        **platform_find_links,
        "HATCH_DATA_DIR": str(root / "hatch-data"),
        "EXTISM_SIGNING_KEY": str(key),
    }
    return proj, key, env


def hatch(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HATCH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_hatch_build_produces_signed_artifacts_and_wheel(project) -> None:
    proj, key, env = project
    proc = hatch("build", cwd=proj, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dist = proj / "dist"
    for suffix in (".wasm", ".plugin.json", ".sig"):
        assert (dist / f"{STEM}{suffix}").is_file()
    verify = run_cli(
        "-m", "extism_platform.cli.plugin", "verify", str(dist / f"{STEM}.wasm"), "--key", f"{key}.pub", "--json"
    )
    assert verify.returncode == 0 and json.loads(verify.stdout)["trusted"], verify.stderr
    wheel = next(dist.glob("fixture_shout-1.0.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for suffix in (".wasm", ".plugin.json", ".sig"):
            assert f"extism_plugins/fixture_shout/{STEM}{suffix}" in names
            assert zf.read(f"extism_plugins/fixture_shout/{STEM}{suffix}") == (dist / f"{STEM}{suffix}").read_bytes()
        entry_points = zf.read("fixture_shout-1.0.0.dist-info/entry_points.txt").decode()
        metadata = zf.read("fixture_shout-1.0.0.dist-info/METADATA").decode()
    assert "[extism.plugins]" in entry_points and "@fixture/shout = extism_plugins.fixture_shout" in entry_points
    assert "Version: 1.0.0" in metadata and "Summary: Upper-cases its input" in metadata
    sdist = next(dist.glob("fixture_shout-1.0.0.tar.gz"))
    assert sdist.is_file()


def test_hatch_build_without_key_fails_with_one_clear_line(project, tmp_path: Path) -> None:
    proj, _, env = project
    env = {k: v for k, v in env.items() if k != "EXTISM_SIGNING_KEY"}
    copy = tmp_path / "shout"
    shutil.copytree(proj, copy, ignore=shutil.ignore_patterns("dist"))
    proc = hatch("build", "-t", "wheel", cwd=copy, env=env)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "[extism] error: no signing key" in out and "Traceback" not in out


def test_version_comes_from_plugin_yaml(project, tmp_path: Path) -> None:
    proj, _, env = project
    copy = tmp_path / "shout"
    shutil.copytree(proj, copy, ignore=shutil.ignore_patterns("dist"))
    manifest = copy / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    proc = hatch("version", cwd=copy, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "1.1.0", proc.stdout + proc.stderr
    proc = hatch("version", "minor", cwd=copy, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "version: 1.2.0" in manifest.read_text() and "language: c" in manifest.read_text()


@pytest.mark.parametrize(
    ("start", "bump", "want"),
    [
        ("1.2.3-rc.1", "patch", "1.2.3"),  # the release the candidate led to (hatch's PEP 440 scheme gave 1.2.4)
        ("1.2.3", "rc", "1.2.4-rc.0"),  # hatch's scheme wrote 1.2.3rc0, which plugin.yaml's schema rejects
        ("1.2.4-rc.0", "rc", "1.2.4-rc.1"),
        ("1.2.3-4", "prerelease", "1.2.3-5"),  # a numeric pre-release stays one (PEP 440 read it as post4)
        ("1.2.3", "minor,rc", "1.3.0-rc.0"),
    ],
)
def test_hatch_version_bumps_follow_semver(project, tmp_path: Path, start: str, bump: str, want: str) -> None:
    proj, _, env = project
    copy = tmp_path / "shout"
    shutil.copytree(proj, copy, ignore=shutil.ignore_patterns("dist"))
    manifest = copy / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", f"version: {start}"))
    proc = hatch("version", bump, cwd=copy, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"version: {want}\n" in manifest.read_text()
