"""plugin.yaml `build.abort` for the TypeScript (AssemblyScript) driver: a project on npm's
official `@extism/as-pdk` names its own abort handler and builds; `trap` makes aborts plain
traps; without the setting the build says which setting to add."""

from __future__ import annotations

from pathlib import Path

import pytest

from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_project
from hatch_extism.build import build_artifacts
from plugin_format.errors import BuildError, ManifestError, PluginCallError
from plugin_format.manifest import from_dict, load_manifest
from tests.conftest import official_as_project


def _host_call(project: Path, wasm: Path, export: str, text: bytes) -> bytes:
    from extism_platform.grants import Grant

    manifest = load_manifest(project)
    host = Host(grants={manifest.name: Grant(requested=True)})
    try:
        host.add(from_project(manifest, wasm.read_bytes(), f"project:{project}"))
        return host.call(manifest.name, export, text).output
    finally:
        host.close()


def test_official_as_pdk_project_with_its_own_abort_handler(official_as_pdk_module: Path) -> None:
    project = official_as_pdk_module.parent.parent
    assert (
        _host_call(project, official_as_pdk_module, "count_vowels", b"aeiou xyz") == b'{"count":5,"text":"aeiou xyz"}'
    )
    # `throw` reached the project's myAbort (named in build.abort), which set the call's error
    with pytest.raises(PluginCallError, match="fail: boom"):
        _host_call(project, official_as_pdk_module, "fail", b"boom")


def test_abort_trap_builds_and_aborts_trap(tmp_path: Path) -> None:
    project = official_as_project(tmp_path, abort="trap")
    wasm = build_artifacts(load_manifest(project), project / "dist", key=None).wasm
    with pytest.raises(PluginCallError) as err:
        _host_call(project, wasm, "fail", b"boom")
    assert "fail: boom" not in str(err.value)  # a plain trap carries no message


def test_without_the_setting_the_build_names_it(tmp_path: Path) -> None:
    project = official_as_project(tmp_path, abort=None)
    with pytest.raises(BuildError, match=r"build: \{abort: assembly/index/myAbort\}"):
        build_artifacts(load_manifest(project), project / "dist", key=None)


def test_an_abort_function_the_compiler_does_not_find(tmp_path: Path) -> None:
    project = official_as_project(tmp_path, abort="assembly/index/noSuchAbort")
    with pytest.raises(BuildError, match="build.abort names 'assembly/index/noSuchAbort'"):
        build_artifacts(load_manifest(project), project / "dist", key=None)


@pytest.mark.parametrize("value", ["", "myAbort", "a b/c", 3])
def test_abort_setting_is_checked_by_the_schema(tmp_path: Path, value: object) -> None:
    doc = {"name": "x", "version": "0.1.0", "language": "typescript", "exports": [{"name": "f"}]}
    with pytest.raises(ManifestError, match="build.abort"):
        from_dict({**doc, "build": {"abort": value}}, tmp_path / "plugin.yaml")


def test_unknown_build_setting_is_refused(tmp_path: Path) -> None:
    doc = {"name": "x", "version": "0.1.0", "language": "typescript", "exports": [{"name": "f"}]}
    with pytest.raises(ManifestError, match="unknown field"):
        from_dict({**doc, "build": {"abrot": "trap"}}, tmp_path / "plugin.yaml")
