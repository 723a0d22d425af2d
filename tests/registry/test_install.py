"""`extism-plugin install` / `add` and `extism-mcp-server --project`, from the outside, against real signed
registries on file:// and on loopback HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from plugin_format.errors import IntegrityError, LockError, ProjectError
from registry_static.install import install
from registry_static.lockfile import read_lock
from registry_static.project import load_project, parse_project, with_plugin
from registry_static.repository import Repository
from registry_static.server import BackgroundServer
from tests.conftest import run_cli

from .conftest import Authors, Reg, build_plugin

APP = {"@acme/weather": "^1"}


@pytest.fixture(scope="session")
def deps_registry(tmp_path_factory: pytest.TempPathFactory, authors: Authors, registry_template: Reg) -> Reg:
    """The shared registry plus @acme/units 0.4.0 and @acme/app: 1.0.0 fits with @acme/weather's
    `@acme/units ^0.3`, 1.1.0 (wanting ^0.4) cannot."""
    base = tmp_path_factory.mktemp("install-registry")
    shutil.copytree(registry_template.dir, base / "registry", symlinks=True)
    shutil.copytree(registry_template.keys, base / "keys")
    root = base / "plugins"
    extra = [
        build_plugin(root, "@acme/units", "0.4.0", authors.alice),
        build_plugin(root, "@acme/app", "1.0.0", authors.alice, dependencies={**APP, "@acme/units": "^0.3"}),
        build_plugin(root, "@acme/app", "1.1.0", authors.alice, dependencies={**APP, "@acme/units": "^0.4"}),
    ]
    Repository(base / "registry", base / "keys").publish([a.wasm for a in extra])
    return Reg(base / "registry", base / "keys")


def write_project(directory: Path, url: str, plugins: dict[str, str], extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = "".join(f'  "{n}": "{r}"   # wanted\n' for n, r in plugins.items())
    path = directory / "extism.yaml"
    path.write_text(f"# the project\nregistries:\n  default: {url}\nplugins:\n{lines}{extra}")
    return path


def cli(cache: Path, *args: str, module: str = "extism_platform.cli.plugin") -> subprocess.CompletedProcess[str]:
    return run_cli("-m", module, *args, env={"EXTISM_PLATFORM_CACHE": str(cache)}, timeout=120)


def installed(p: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert p.returncode == 0, p.stderr
    return {e["name"]: e["version"] for e in json.loads(p.stdout)["plugins"]}


def assert_one_line_error(p: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith("extism-plugin: error: ")
    for needle in needles:
        assert needle in p.stderr, p.stderr


def test_install_writes_the_lock_then_is_a_noop_and_frozen_holds(deps_registry: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", deps_registry.dir.as_uri(), {"@acme/app": "^1"})
    cache = tmp_path / "cache"
    p = cli(cache, "install", "--project", str(proj), "--json")
    # app 1.1.0 is the newest but clashes with @acme/weather over @acme/units: the resolver backs off to 1.0.0
    assert installed(p) == {"@acme/app": "1.0.0", "@acme/units": "0.3.1", "@acme/weather": "1.2.0"}
    doc = json.loads(p.stdout)
    # 3 plugins x (wasm, plugin.json, sig), but their wasm modules are byte-identical (one C source): 7 blobs
    assert doc["changed"] and doc["written"] and doc["blobs_downloaded"] == 7
    lock_path = proj.with_name("extism.lock")
    lock = json.loads(lock_path.read_text())
    assert lock["schema"] == "extism-platform/lock@1" and list(lock["plugins"]) == sorted(lock["plugins"])
    entry = deps_registry.repo().index("@acme/weather").get("1.2.0")
    assert lock["plugins"]["@acme/weather"] == {
        "version": "1.2.0",
        "registry": deps_registry.dir.as_uri() + "/",
        "wasm_sha256": entry.wasm.sha256,
        "plugin_json_sha256": entry.plugin_json.sha256,
        "sig_sha256": entry.sig.sha256,
        "key_id": entry.key_id,
        "dependencies": {"@acme/units": "^0.3"},
        "permissions": {"digest": entry.permission_set().digest, **entry.permission_set().to_dict()},
    }
    assert (cache / "keys" / f"{entry.key_id}.pem").is_file()
    before = (lock_path.read_bytes(), lock_path.stat().st_mtime_ns)

    p = cli(cache, "install", "--project", str(proj))  # the second run: nothing to do
    assert p.returncode == 0 and "extism.lock up to date" in p.stdout, p.stderr
    assert (lock_path.read_bytes(), lock_path.stat().st_mtime_ns) == before
    p = cli(cache, "install", "--project", str(proj), "--frozen", "--json")
    assert installed(p)["@acme/app"] == "1.0.0" and json.loads(p.stdout)["blobs_downloaded"] == 0

    proj.write_text(proj.read_text().replace('"^1"', '"^1.1"') + '  "greeter": "*"\n')
    p = cli(cache, "install", "--project", str(proj), "--frozen")
    assert_one_line_error(
        p,
        "extism.lock does not satisfy extism.yaml (--frozen never re-resolves",
        "\n  extism.yaml wants @acme/app ^1.1 but extism.lock has 1.0.0\n",
        "\n  extism.yaml wants greeter *, which extism.lock does not have\n",
    )
    assert (lock_path.read_bytes(), lock_path.stat().st_mtime_ns) == before


def test_conflict_is_explained_and_nothing_is_written(deps_registry: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", deps_registry.dir.as_uri(), {"@acme/app": "1.1.0"})
    p = cli(tmp_path / "cache", "install", "--project", str(proj))
    assert_one_line_error(p)
    assert p.stderr.splitlines() == [
        "extism-plugin: error: cannot resolve extism.yaml: conflicting requirements for @acme/units",
        "  every version of @acme/weather needs @acme/units ^0.3",
        "  @acme/app 1.1.0 needs @acme/units ^0.4",
        "  no version of @acme/units matches ^0.3 and ^0.4 (available: 0.3.1, 0.4.0)",
        "  so @acme/weather (any version) and @acme/app 1.1.0 cannot be chosen together",
        "  every version of @acme/app needs @acme/weather ^1",
        "  so @acme/app 1.1.0 cannot be chosen",
        "  extism.yaml wants @acme/app 1.1.0",
        "  so extism.yaml's requirement @acme/app 1.1.0 cannot be met",
    ]
    assert not proj.with_name("extism.lock").exists()
    assert not (tmp_path / "cache" / "blobs").exists()  # resolution failed before any artifact was fetched


def test_yanked_versions_stay_installed_when_locked_but_are_never_chosen_anew(reg: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", reg.dir.as_uri(), APP)
    cache = tmp_path / "cache"
    assert installed(cli(cache, "install", "--project", str(proj), "--json"))["@acme/weather"] == "1.2.0"
    reg.repo().yank("@acme/weather", "1.2.0")
    for extra in ([], ["--frozen"]):
        p = cli(cache, "install", "--project", str(proj), "--json", *extra)
        assert installed(p)["@acme/weather"] == "1.2.0"
        assert "warning: @acme/weather 1.2.0 is yanked; kept because extism.lock pins it" in p.stderr
    fresh = write_project(tmp_path / "fresh", reg.dir.as_uri(), APP)
    assert installed(cli(cache, "install", "--project", str(fresh), "--json"))["@acme/weather"] == "1.1.0"
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather", "--json")
    assert installed(p)["@acme/weather"] == "1.1.0" and not p.stderr


def test_add_keeps_the_rest_of_extism_yaml_and_never_upgrades_by_surprise(deps_registry: Reg, tmp_path: Path) -> None:
    grants = '\ngrants:   # kept\n  "@acme/weather": {hosts: [api.weather.example]}\n'
    proj = write_project(tmp_path / "p", deps_registry.dir.as_uri(), {"@acme/weather": "~1.1"}, grants)
    cache = tmp_path / "cache"
    original = proj.read_text()
    p = cli(cache, "add", "greeter", "--project", str(proj), "--json")
    assert installed(p) == {"@acme/units": "0.3.1", "@acme/weather": "1.1.0", "greeter": "0.1.0"}
    assert proj.read_text() == original.replace("# wanted\n", '# wanted\n  "greeter": "^0.1.0"\n')

    p = cli(cache, "add", "@acme/nope@^1", "--project", str(proj))
    assert_one_line_error(p, "no plugin named '@acme/nope'")
    assert "@acme/nope" not in proj.read_text()  # nothing written on failure

    proj.write_text(proj.read_text().replace('"~1.1"', '"^1"'))
    p = cli(cache, "install", "--project", str(proj), "--json")
    assert installed(p)["@acme/weather"] == "1.1.0" and not json.loads(p.stdout)["changed"]  # the lock still fits
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "--json")
    assert installed(p)["@acme/weather"] == "1.2.0"
    p = cli(cache, "add", "@acme/weather@~1.1", "--project", str(proj), "--json")
    assert installed(p)["@acme/weather"] == "1.1.0" and '"@acme/weather": "~1.1"' in proj.read_text()
    assert proj.read_text().endswith(grants)


def test_mcp_server_serves_the_lock_from_the_cache_and_a_tampered_blob_is_caught(
    deps_registry: Reg, tmp_path: Path
) -> None:
    grants = '\ngrants:\n  "@acme/weather": {hosts: [api.weather.example]}\n'
    proj = write_project(tmp_path / "p", deps_registry.dir.as_uri(), APP, grants)
    cache = tmp_path / "cache"
    installed(cli(cache, "install", "--project", str(proj), "--json"))
    serve = ("--project", str(proj), "--list", "--json", "--no-audit")
    p = cli(cache, *serve, module="extism_platform.cli.mcp_server")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert {t["name"] for t in doc["tools"]} - {"extism_plugins"} == {"acme_weather-greet", "acme_units-greet"}
    weather = next(d for d in doc["plugins"] if d["name"] == "@acme/weather")
    assert weather["version"] == "1.2.0" and weather["trusted"] and weather["source"].startswith("lock:")
    assert weather["effective"]["hosts"] == ["api.weather.example"]

    blob = cache / "blobs" / "sha256" / weather["sha256"]
    blob.write_bytes(blob.read_bytes() + b"\0")
    p = cli(cache, *serve, module="extism_platform.cli.mcp_server")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "does not match its sha256" in p.stderr, p.stderr
    p = cli(cache, "install", "--project", str(proj), "--json")  # detected, fetched again, verified
    assert installed(p)["@acme/weather"] == "1.2.0" and json.loads(p.stdout)["blobs_downloaded"] == 1
    assert cli(cache, *serve, module="extism_platform.cli.mcp_server").returncode == 0

    proj.write_text(proj.read_text().replace('"^1"', '"^2.0.0-rc.1"'))
    p = cli(cache, *serve, module="extism_platform.cli.mcp_server")
    assert p.returncode == 1 and "extism.lock does not satisfy extism.yaml" in p.stderr, p.stderr


def test_install_over_loopback_http(deps_registry: Reg, tmp_path: Path) -> None:
    with BackgroundServer(deps_registry.dir) as url:
        proj = write_project(tmp_path / "p", url, {"@acme/app": "^1", "greeter": "0.1"})
        cache = tmp_path / "cache"
        got = installed(cli(cache, "install", "--project", str(proj), "--json"))
        assert got == {"@acme/app": "1.0.0", "@acme/units": "0.3.1", "@acme/weather": "1.2.0", "greeter": "0.1.0"}
        assert {e.registry for e in read_lock(proj.with_name("extism.lock")).plugins.values()} == {url}
        p = cli(cache, "install", "--project", str(proj), "--frozen", "--json")
        assert installed(p) == got and json.loads(p.stdout)["blobs_downloaded"] == 0


def test_a_changed_artifact_under_a_locked_version_is_refused(deps_registry: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", str(deps_registry.dir), APP)
    result = install(load_project(proj), cache_dir=tmp_path / "cache")
    assert result.write() and not install(load_project(proj), cache_dir=tmp_path / "cache").changed
    lock_path = proj.with_name("extism.lock")
    doc = json.loads(lock_path.read_text())
    doc["plugins"]["@acme/units"]["wasm_sha256"] = "ab" * 32
    lock_path.write_text(json.dumps(doc))
    for frozen in (False, True):
        with pytest.raises(IntegrityError, match=r"@acme/units 0\.3\.1: extism\.lock pins wasm_sha256 abab"):
            install(load_project(proj), frozen=frozen, cache_dir=tmp_path / "cache")
    assert json.loads(lock_path.read_text()) == doc
    with pytest.raises(LockError, match="--upgrade @acme/nope: neither extism.yaml nor extism.lock has it"):
        install(load_project(proj), upgrade={"@acme/nope"}, cache_dir=tmp_path / "cache")
    lock_path.unlink()
    with pytest.raises(LockError, match="--frozen needs one"):
        install(load_project(proj), frozen=True, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plugins: [a]", "extism.yaml: plugins: expected a mapping"),
        ("registries: {default: ftp://x}\nplugins: {a: '^1'}", "registries.default: ftp://x: unsupported registry URL"),
        ("registries: {default: /r}\nplugins: {a: 'one'}", "plugins.a: range 'one'"),
        ("registries: {default: /r}\nplugins: {'A!': '^1'}", "plugins.A!: 'A!' is not a plugin name"),
        ("registries: {x: /r}\nplugins: {a: '^1'}", "plugins.a: no registry named 'default' in registries"),
        ("plugins: {a: {version: '1', registry: b, pin: 1}}", "plugins.a: unknown field(s) pin"),
        ("registries: {default: /r}\nplugins: {a: {version: '^1', prerelease: 'yes'}}", "a.prerelease: expected true"),
        ("registries: {default: {url: /r, root_sha256: xy}}", "registries.default.root_sha256: expected"),
        ("plugin: {}", "extism.yaml: unknown field(s) plugin"),
    ],
)
def test_extism_yaml_errors_name_the_field(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as exc:
        parse_project(tmp_path / "extism.yaml", text)
    assert message in str(exc.value)


def test_a_bad_grant_fails_install_naming_the_field(deps_registry: Reg, tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", deps_registry.dir.as_uri(), APP, "\ngrants:\n  a: {hosts: 3}\n")
    p = cli(tmp_path / "cache", "install", "--project", str(proj))
    assert_one_line_error(p, "extism.yaml: grants.a.hosts: expected a list of strings")
    assert not proj.with_name("extism.lock").exists()


def test_project_paths_and_edits(tmp_path: Path) -> None:
    text = (
        "registries:\n  default: ./reg\n  acme: {url: 'https://acme.example/r'}\n"
        "plugins:\n  a: 1\n  b: {version: '~2', registry: acme}\n"
    )
    project = parse_project(tmp_path / "extism.yaml", text)
    assert project.registries["default"].url == (tmp_path / "reg").as_uri() + "/"
    assert (project.plugins["a"].spec, project.registry_for("b").url) == ("1", "https://acme.example/r/")
    assert project.registry_for("dep", project.registries["acme"]).name == "acme"
    assert "  b: 1.x\n" not in with_plugin(project, "b", "1.x")
    assert with_plugin(project, "b", "1.x").endswith('  a: 1\n  "b": "1.x"\n')
    beta = parse_project(tmp_path / "extism.yaml", text + "  c: {version: '^2', prerelease: true}\n")
    assert beta.plugins["c"].prerelease and beta.plugins["c"].range.matches("2.1.0-rc.1")
    assert not project.plugins["a"].prerelease and not project.plugins["a"].range.matches("1.1.0-rc.1")
    assert with_plugin(beta, "c", "^3").endswith('  "c": {version: "^3", prerelease: true}\n')  # the opt-in stays
    assert with_plugin(beta, "c", "^3", "acme").endswith('  "c": {version: "^3", registry: acme, prerelease: true}\n')
    empty = parse_project(tmp_path / "extism.yaml", "registries: {default: ./reg}\nplugins: {}\n")
    assert with_plugin(empty, "c", "^1") == 'registries: {default: ./reg}\nplugins:\n  "c": "^1"\n'
    with pytest.raises(ProjectError, match="flow style"):
        with_plugin(parse_project(tmp_path / "extism.yaml", "registries: /r\nplugins: {a: '1'}"), "c", "^1")


def test_add_prerelease_writes_the_opt_in(reg: Reg, tmp_path: Path) -> None:
    # the registry has @acme/weather 1.0.0, 1.1.0, 1.2.0 and 2.0.0-rc.1
    cache = tmp_path / "cache"
    plain = write_project(tmp_path / "plain", reg.dir.as_uri(), {})
    assert installed(cli(cache, "add", "@acme/weather", "--project", str(plain), "--json"))["@acme/weather"] == "1.2.0"
    assert '"@acme/weather": "^1.2.0"' in plain.read_text()
    beta = write_project(tmp_path / "beta", reg.dir.as_uri(), {})
    p = cli(cache, "add", "@acme/weather", "--prerelease", "--project", str(beta), "--json")
    assert installed(p)["@acme/weather"] == "2.0.0-rc.1"
    assert '"@acme/weather": {version: "^2.0.0-rc.1", prerelease: true}' in beta.read_text()
    # on an entry already there: the opt-in is added, its range kept
    p = cli(cache, "add", "@acme/weather", "--prerelease", "--project", str(plain), "--json")
    assert p.returncode == 0, p.stderr
    assert '"@acme/weather": {version: "^1.2.0", prerelease: true}' in plain.read_text()


def test_prerelease_opt_in_from_extism_yaml_to_the_lock_and_back(reg: Reg, tmp_path: Path) -> None:
    # the registry has @acme/weather 1.0.0, 1.1.0, 1.2.0 and 2.0.0-rc.1
    entry = '  "@acme/weather": {version: "^1.2 || ^2", prerelease: true}\n'
    proj = write_project(tmp_path / "p", reg.dir.as_uri(), {})
    proj.write_text(proj.read_text() + entry)
    cache = tmp_path / "cache"
    p = cli(cache, "install", "--project", str(proj), "--json")
    assert installed(p) == {"@acme/weather": "2.0.0-rc.1", "@acme/units": "0.3.1"}
    lock = json.loads(proj.with_name("extism.lock").read_text())
    assert lock["plugins"]["@acme/weather"]["version"] == "2.0.0-rc.1"  # the exact version is all it needs
    assert installed(cli(cache, "install", "--project", str(proj), "--frozen", "--json"))["@acme/weather"] == (
        "2.0.0-rc.1"
    )
    p = cli(cache, "--project", str(proj), "--list", "--json", "--no-audit", module="extism_platform.cli.mcp_server")
    assert p.returncode == 0 and "2.0.0-rc.1" in p.stdout, p.stderr  # served from the lock, linked

    # `add` with a new range keeps the opt-in
    p = cli(cache, "add", "@acme/weather@>=1.2", "--project", str(proj), "--json")
    assert installed(p)["@acme/weather"] == "2.0.0-rc.1"
    assert '"@acme/weather": {version: ">=1.2", prerelease: true}' in proj.read_text()

    # without the field the same range means releases only: --frozen says why, install moves off the rc
    proj.write_text(proj.read_text().replace(", prerelease: true", ""))
    p = cli(cache, "install", "--project", str(proj), "--frozen")
    assert_one_line_error(
        p,
        "extism.yaml wants @acme/weather >=1.2 but extism.lock has 2.0.0-rc.1 "
        "(a pre-release: `prerelease: true` on plugins.@acme/weather accepts it)",
    )
    assert installed(cli(cache, "install", "--project", str(proj), "--json"))["@acme/weather"] == "1.2.0"


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]"])
def test_prerelease_must_be_a_boolean(reg: Reg, tmp_path: Path, value: str) -> None:
    proj = write_project(tmp_path / "p", reg.dir.as_uri(), {})
    proj.write_text(proj.read_text() + f'  "@acme/weather": {{version: "^1", prerelease: {value}}}\n')
    p = cli(tmp_path / "cache", "install", "--project", str(proj))
    assert_one_line_error(p, "extism.yaml: plugins.@acme/weather.prerelease: expected true or false")
    assert p.stderr.count("\n") == 1
    assert not proj.with_name("extism.lock").exists()
