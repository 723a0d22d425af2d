"""The package manager's everyday commands, from the outside (`extism-plugin …` in a subprocess), on a
synthetic registry generated here with real signatures (TUF roles, author DSSE signatures):
outdated / update / remove / list / tree / why (text and --json), `update --latest`, `install --frozen
--offline` with the registry down, offline errors, search / info, and `cache verify`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hatch_extism.build import Artifacts
from registry_static.repository import Repository
from registry_static.server import BackgroundServer

from .conftest import Authors, Reg
from .helpers import signed_artifact
from .test_install import assert_one_line_error, cli, write_project

# name, version, extra plugin.json fields. STAGE_1 is published first; STAGE_2 are the newer releases.
STAGE_1: list[tuple[str, str, dict[str, Any]]] = [
    ("@pm/util", "0.1.0", {}),
    ("@pm/lib", "1.0.0", {"dependencies": {"@pm/util": "^0.1"}}),
    ("@pm/app", "1.0.0", {"dependencies": {"@pm/lib": "^1", "@pm/util": "^0.1"}}),
    ("@pm/tool", "1.0.0", {"description": "Convert units of measure", "tags": ["convert", "math"]}),
]
STAGE_2: list[tuple[str, str, dict[str, Any]]] = [
    ("@pm/util", "0.1.1", {}),
    ("@pm/util", "0.2.0", {}),
    ("@pm/lib", "1.1.0", {"dependencies": {"@pm/util": "^0.1"}}),
    ("@pm/lib", "2.0.0", {"dependencies": {"@pm/util": "^0.1"}}),
    ("@pm/app", "1.1.0", {"dependencies": {"@pm/lib": "^1", "@pm/util": "^0.1"}}),
    ("@pm/app", "2.0.0", {"dependencies": {"@pm/lib": "^2"}}),
]


@pytest.fixture(scope="session")
def pm_template(tmp_path_factory: pytest.TempPathFactory, authors: Authors, built: dict[str, Artifacts]) -> Reg:
    base = tmp_path_factory.mktemp("pm-registry")
    repo = Repository.init(base / "registry", base / "keys", name="pm", fsync=False)
    repo.add_scope("@pm", [(authors.pub("alice").read_text(), "alice")])
    _publish(Reg(base / "registry", base / "keys"), authors, built, STAGE_1)
    return Reg(base / "registry", base / "keys")


def _publish(reg: Reg, authors: Authors, built: dict[str, Artifacts], items: list[tuple[str, str, dict]]) -> None:
    src = built["@acme/units@0.3.1"]
    wasm, template = src.wasm.read_bytes(), json.loads(src.plugin_json.read_bytes())
    key = authors.private("alice")
    reg.repo().publish_bytes([signed_artifact(template, wasm, n, v, key, **f) for n, v, f in items])


@pytest.fixture
def pm(pm_template: Reg, tmp_path: Path) -> Reg:
    shutil.copytree(pm_template.dir, tmp_path / "registry", symlinks=True)
    shutil.copytree(pm_template.keys, tmp_path / "keys")
    return Reg(tmp_path / "registry", tmp_path / "keys")


def ok(p: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert p.returncode == 0 and "Traceback" not in p.stderr, (p.stdout, p.stderr)
    return p


def as_json(p: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in p.stderr, p.stderr
    return json.loads(p.stdout)


def versions(cache: Path, proj: Path) -> dict[str, str]:
    lock = json.loads(proj.with_name("extism.lock").read_text())
    return {n: e["version"] for n, e in lock["plugins"].items()}


def test_outdated_then_update_within_ranges(
    pm: Reg, authors: Authors, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/app": "^1"})
    cache = tmp_path / "cache"
    ok(cli(cache, "install", "--project", str(proj)))
    p = ok(cli(cache, "outdated", "--project", str(proj)))  # nothing newer yet: exit 0
    assert "every plugin is at its latest version" in p.stdout

    _publish(pm, authors, built, STAGE_2)
    p = cli(cache, "outdated", "--project", str(proj))
    assert p.returncode == 1, p.stderr  # as npm: 1 when something is outdated
    assert p.stdout.splitlines() == [
        "Plugin    Current  Wanted  Latest         Depended by",
        "@pm/app   1.0.0    1.1.0   2.0.0 (major)  extism.yaml",
        "@pm/lib   1.0.0    1.1.0   2.0.0 (major)  @pm/app@1.0.0",
        "@pm/util  0.1.0    0.1.1   0.2.0 (major)  @pm/app@1.0.0, @pm/lib@1.0.0",
    ]
    doc = as_json(cli(cache, "outdated", "--project", str(proj), "--json"))
    assert doc["plugins"][0] == {
        "name": "@pm/app",
        "current": "1.0.0",
        "wanted": "1.1.0",
        "latest": "2.0.0",
        "direct": True,
        "dependents": ["extism.yaml"],
        "registry": pm.dir.as_uri() + "/",
        "outdated": True,
        "major": True,
    }

    p = ok(cli(cache, "update", "--project", str(proj)))
    assert p.stdout.splitlines()[:3] == ["@pm/app 1.0.0 → 1.1.0", "@pm/lib 1.0.0 → 1.1.0", "@pm/util 0.1.0 → 0.1.1"]
    assert versions(cache, proj) == {"@pm/app": "1.1.0", "@pm/lib": "1.1.0", "@pm/util": "0.1.1"}
    assert '"@pm/app": "^1"' in proj.read_text()  # within the range: extism.yaml untouched
    doc = as_json(cli(cache, "update", "--project", str(proj), "--json"))
    assert doc["changes"] == [] and doc["ranges"] == [] and not doc["written"]
    doc = as_json(cli(cache, "outdated", "--project", str(proj), "--json"))
    assert [(r["name"], r["current"], r["wanted"], r["latest"]) for r in doc["plugins"]] == [
        ("@pm/app", "1.1.0", "1.1.0", "2.0.0"),
        ("@pm/lib", "1.1.0", "1.1.0", "2.0.0"),
        ("@pm/util", "0.1.1", "0.1.1", "0.2.0"),
    ]


def test_update_latest_rewrites_the_range_and_warns_on_a_major_bump(
    pm: Reg, authors: Authors, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    extra = '\ngrants:   # kept\n  "@pm/app": {hosts: [api.example]}\n'
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/app": "^1", "@pm/tool": "~1.0"}, extra)
    cache = tmp_path / "cache"
    ok(cli(cache, "install", "--project", str(proj)))
    _publish(pm, authors, built, STAGE_2)
    before = proj.read_text()
    p = ok(cli(cache, "update", "--latest", "--project", str(proj)))
    assert proj.read_text() == before.replace('"@pm/app": "^1"', '"@pm/app": "^2.0.0"')  # the rest byte for byte
    assert "warning: @pm/app: ^1 → ^2.0.0 crosses a major version (1.0.0 → 2.0.0); by semver it may break" in p.stderr
    assert p.stdout.splitlines()[:3] == [
        f"{proj}: plugins.@pm/app: ^1 → ^2.0.0",
        "@pm/app 1.0.0 → 2.0.0",
        "@pm/lib 1.0.0 → 2.0.0",
    ]
    assert versions(cache, proj) == {"@pm/app": "2.0.0", "@pm/lib": "2.0.0", "@pm/tool": "1.0.0", "@pm/util": "0.1.1"}
    ok(cli(cache, "install", "--frozen", "--project", str(proj)))


def test_install_upgrade_prints_old_to_new(
    pm: Reg, authors: Authors, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/lib": "^1"})
    cache = tmp_path / "cache"
    ok(cli(cache, "install", "--project", str(proj)))
    _publish(pm, authors, built, STAGE_2)
    p = ok(cli(cache, "install", "--upgrade", "--project", str(proj)))
    assert "changes:\n  @pm/lib 1.0.0 → 1.1.0\n  @pm/util 0.1.0 → 0.1.1\n" in p.stdout
    doc = as_json(cli(cache, "install", "--upgrade", "--project", str(proj), "--json"))
    assert doc["changes"] == []


def test_add_again_never_rewrites_the_range_silently(pm: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/lib": "^1"})
    cache = tmp_path / "cache"
    p = ok(cli(cache, "add", "@pm/tool", "--project", str(proj)))
    assert f"{proj}: plugins.@pm/tool = ^1.0.0\n" in p.stdout
    text = proj.read_text()
    p = ok(cli(cache, "add", "@pm/tool", "--project", str(proj), "--json"))
    assert as_json(p)["range"] == {"name": "@pm/tool", "action": "kept", "old": "^1.0.0", "new": "^1.0.0"}
    assert proj.read_text() == text
    p = ok(cli(cache, "add", "@pm/tool", "--project", str(proj)))
    assert "= ^1.0.0 (already there, kept: `extism-plugin add @pm/tool@RANGE` changes it" in p.stdout
    p = ok(cli(cache, "add", "@pm/tool@~1.0", "--project", str(proj)))
    assert f"{proj}: plugins.@pm/tool: ^1.0.0 → ~1.0\n" in p.stdout
    assert proj.read_text() == text.replace('"@pm/tool": "^1.0.0"', '"@pm/tool": "~1.0"')


def test_list_tree_why_and_remove(pm: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/app": "^1", "@pm/lib": "^1", "@pm/tool": "^1"})
    cache = tmp_path / "cache"
    ok(cli(cache, "install", "--project", str(proj)))
    args = ("--project", str(proj))

    assert ok(cli(cache, "list", *args)).stdout.splitlines() == [
        "Plugin    Version  Range  Required by",
        "@pm/app   1.0.0    ^1     extism.yaml",
        "@pm/lib   1.0.0    ^1     @pm/app@1.0.0",
        "@pm/tool  1.0.0    ^1     extism.yaml",
        "@pm/util  0.1.0    -      @pm/app@1.0.0, @pm/lib@1.0.0",
    ]
    doc = as_json(cli(cache, "list", *args, "--json"))
    assert doc["plugins"][3] == {
        "name": "@pm/util",
        "version": "0.1.0",
        "registry": pm.dir.as_uri() + "/",
        "direct": False,
        "range": None,
        "required_by": ["@pm/app@1.0.0", "@pm/lib@1.0.0"],
    }

    assert ok(cli(cache, "tree", *args)).stdout.splitlines() == [
        str(proj),
        "├── @pm/app 1.0.0 (^1)",
        "│   ├── @pm/lib 1.0.0 (^1)",
        "│   │   └── @pm/util 0.1.0 (^0.1)",
        "│   └── @pm/util 0.1.0 (^0.1) (deduped)",
        "├── @pm/lib 1.0.0 (^1) (deduped)",
        "└── @pm/tool 1.0.0 (^1)",
    ]
    doc = as_json(cli(cache, "tree", *args, "--depth", "0", "--json"))
    assert [(n["name"], n["version"], n["range"], n["dependencies"]) for n in doc["plugins"]] == [
        ("@pm/app", "1.0.0", "^1", []),
        ("@pm/lib", "1.0.0", "^1", []),
        ("@pm/tool", "1.0.0", "^1", []),
    ]

    assert ok(cli(cache, "why", "@pm/util", *args)).stdout.splitlines() == [
        "@pm/util 0.1.0",
        "  @pm/app@1.0.0 needs @pm/util ^0.1",
        "    extism.yaml needs @pm/app ^1",
        "  @pm/lib@1.0.0 needs @pm/util ^0.1",
        "    extism.yaml needs @pm/lib ^1",
        "  @pm/lib@1.0.0 needs @pm/util ^0.1",
        "    @pm/app@1.0.0 needs @pm/lib ^1",
        "      extism.yaml needs @pm/app ^1",
    ]
    doc = as_json(cli(cache, "why", "@pm/util", *args, "--json"))
    assert doc["chains"][0] == [
        {"by": "extism.yaml", "name": "@pm/app", "version": "1.0.0", "range": "^1"},
        {"by": "@pm/app@1.0.0", "name": "@pm/util", "version": "0.1.0", "range": "^0.1"},
    ]
    assert_one_line_error(cli(cache, "why", "@pm/nope", *args), "extism.lock: @pm/nope is not installed")

    p = cli(cache, "remove", "@pm/util", *args)
    assert_one_line_error(p, "@pm/util is not listed in plugins:, it is a dependency of @pm/app@1.0.0, @pm/lib@1.0.0")
    text = proj.read_text()
    p = ok(cli(cache, "remove", "@pm/app", *args))
    assert p.stdout.splitlines() == [
        "removed @pm/app 1.0.0",
        "kept @pm/lib (needed by extism.yaml)",
        "kept @pm/util (needed by @pm/lib@1.0.0)",
        f"{proj} and extism.lock written",
    ]
    assert proj.read_text() == text.replace('  "@pm/app": "^1"   # wanted\n', "")
    assert versions(cache, proj) == {"@pm/lib": "1.0.0", "@pm/tool": "1.0.0", "@pm/util": "0.1.0"}
    doc = as_json(cli(cache, "remove", "@pm/lib", *args, "--json"))
    assert doc["removed"] == [{"name": "@pm/lib", "version": "1.0.0"}, {"name": "@pm/util", "version": "0.1.0"}]
    assert versions(cache, proj) == {"@pm/tool": "1.0.0"}
    ok(cli(cache, "install", "--frozen", *args))  # what is left still satisfies extism.yaml exactly


def test_install_frozen_and_offline_with_the_registry_down(pm: Reg, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with BackgroundServer(pm.dir) as url:
        proj = write_project(tmp_path / "p", url, {"@pm/app": "^1", "@pm/tool": "^1"})
        ok(cli(cache, "install", "--project", str(proj)))
    # the server is stopped: nothing listens on that port any more
    lock = proj.with_name("extism.lock").read_bytes()
    p = ok(cli(cache, "install", "--frozen", "--project", str(proj), "--json"))
    assert "installed what extism.lock pins from the cache instead (verified)" in p.stderr
    assert as_json(p)["blobs_downloaded"] == 0 and len(as_json(p)["plugins"]) == 4
    p = ok(cli(cache, "install", "--frozen", "--offline", "--project", str(proj), "--json"))
    assert not p.stderr and as_json(p)["offline"] and not as_json(p)["changed"]
    p = ok(cli(cache, "install", "--offline", "--project", str(proj)))  # re-resolves from the cached index files
    assert "extism.lock up to date" in p.stdout
    assert proj.with_name("extism.lock").read_bytes() == lock
    doc = as_json(cli(cache, "outdated", "--offline", "--all", "--project", str(proj), "--json"))
    assert {r["name"]: r["latest"] for r in doc["plugins"]}["@pm/app"] == "1.0.0"
    p = cli(cache, "install", "--project", str(proj))  # online without --frozen: the error names the registry
    assert_one_line_error(p, f"registry {url}")


def test_offline_names_what_the_cache_lacks(pm: Reg, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/lib": "^1"})
    p = cli(cache, "install", "--offline", "--project", str(proj))
    assert_one_line_error(p, "offline: registry", "root metadata is not in the cache", "without --offline")
    ok(cli(cache, "install", "--project", str(proj)))
    lock = json.loads(proj.with_name("extism.lock").read_text())
    sig = lock["plugins"]["@pm/util"]["sig_sha256"]
    (cache / "blobs" / "sha256" / sig).unlink()
    p = cli(cache, "install", "--frozen", "--offline", "--project", str(proj))
    assert_one_line_error(p, f"offline: @pm/util@0.1.0 sig (sha256 {sig[:16]}…", "is not in the cache")
    p = cli(cache, "add", "@pm/tool", "--offline", "--project", str(proj))  # never fetched: no index file cached
    assert_one_line_error(p, "@pm/tool: offline: registry", "the index file index/pm/tool.json is not in the cache")


def test_search_and_info(pm: Reg, authors: Authors, built: dict[str, Artifacts], tmp_path: Path) -> None:
    _publish(pm, authors, built, STAGE_2)
    pm.repo().yank("@pm/app", "1.1.0")
    cache = tmp_path / "cache"
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {})
    p = ok(cli(cache, "search", "convert", "--project", str(proj)))
    assert p.stdout.splitlines() == ["Plugin    Version  Description", "@pm/tool  1.0.0    Convert units of measure"]
    doc = as_json(cli(cache, "search", "pm", "--registry", pm.dir.as_uri(), "--json"))
    assert [h["name"] for h in doc["plugins"]] == ["@pm/app", "@pm/lib", "@pm/tool", "@pm/util"]
    assert doc["plugins"][2] == {
        "name": "@pm/tool",
        "version": "1.0.0",
        "description": "Convert units of measure",
        "tags": ["convert", "math"],
        "language": "c",
    }
    assert "no plugin in" in ok(cli(cache, "search", "nothing-like-it", "--project", str(proj))).stdout

    p = ok(cli(cache, "info", "@pm/app", "--project", str(proj)))
    assert p.stdout.splitlines()[1] == "2.0.0: Plugin @pm/app"
    assert "dependencies: @pm/lib ^2" in p.stdout and "versions: 1.0.0, 1.1.0 (yanked), 2.0.0" in p.stdout
    doc = as_json(cli(cache, "info", "@pm/app@^1", "--project", str(proj), "--json"))
    assert doc["latest"] == "2.0.0" and doc["selected"]["version"] == "1.0.0"  # 1.1.0 is yanked
    assert doc["selected"]["dependencies"] == {"@pm/lib": "^1", "@pm/util": "^0.1"}
    assert doc["selected"]["exports"] == [{"name": "greet", "description": "Echo the input"}]
    assert_one_line_error(cli(cache, "info", "@pm/nope", "--project", str(proj)), "no plugin named '@pm/nope'")
    # the index file is verified: a tampered one is refused, not shown
    index = next((pm.dir / "index" / "pm").glob("*.tool.json"))
    index.write_bytes(index.read_bytes().replace(b"Convert units", b"Steal secrets"))
    assert_one_line_error(
        cli(tmp_path / "fresh", "info", "@pm/tool", "--project", str(proj)),
        "a file differs from what the signed metadata pins",
    )


def test_cache_verify_detects_a_corrupted_blob(pm: Reg, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proj = write_project(tmp_path / "p", pm.dir.as_uri(), {"@pm/lib": "^1"})
    ok(cli(cache, "install", "--project", str(proj)))
    doc = as_json(cli(cache, "cache", "ls", "--json"))
    assert len(doc["blobs"]) == 5 and doc["registries"][0]["url"] == pm.dir.as_uri() + "/"
    assert ok(cli(cache, "cache", "verify")).stdout.startswith("OK: 5 blobs, 1 keys checked, 0 problems")
    lock = json.loads(proj.with_name("extism.lock").read_text())
    blob = cache / "blobs" / "sha256" / lock["plugins"]["@pm/lib"]["plugin_json_sha256"]
    blob.write_bytes(blob.read_bytes().replace(b"@pm/lib", b"@pm/bad"))
    p = cli(cache, "cache", "verify")
    assert p.returncode == 1 and f"{blob}: content does not match the sha256 it is named by" in p.stdout
    assert as_json(cli(cache, "cache", "verify", "--json"))["problems"] == [
        {"path": str(blob), "problem": "content does not match the sha256 it is named by"}
    ]
    assert as_json(cli(cache, "cache", "clean", "--corrupt", "--json"))["removed"] == [str(blob)]
    ok(cli(cache, "cache", "verify"))
    doc = as_json(ok(cli(cache, "install", "--project", str(proj), "--json")))
    assert doc["blobs_downloaded"] == 1  # fetched and verified again
    assert len(as_json(cli(cache, "cache", "clean", "--json"))["removed"]) == 3
    assert not (cache / "blobs").exists()
