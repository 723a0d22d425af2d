"""Permission changes are never silent (issue 11, item 3; issue 12, item 3's index record): extism.lock
records each plugin's requested permissions, an install/update to a version that asks for more stops until
extism.yaml grants it or `--accept-permissions` is passed, and the index records each version's
difference against the previous one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hatch_extism.build import Artifacts
from plugin_format.errors import LockError
from plugin_format.permissions import Grant, PermissionSet, diff, uncovered
from registry_static.lockfile import read_lock

from .conftest import WEATHER, Authors, Reg, build_plugin
from .test_install import assert_one_line_error, cli, installed, write_project

NEW_HOST = "tiles.weather.example"


@pytest.fixture(scope="session")
def wider(tmp_path_factory: pytest.TempPathFactory, authors: Authors) -> Artifacts:
    """@acme/weather 1.3.0 asking for one more host than 1.2.0."""
    perms = {**WEATHER["permissions"], "hosts": ["api.weather.example", NEW_HOST]}
    return build_plugin(
        tmp_path_factory.mktemp("wider"), "@acme/weather", "1.3.0", authors.alice, **{**WEATHER, "permissions": perms}
    )


@pytest.fixture
def locked_app(reg: Reg, tmp_path: Path) -> tuple[Path, Path]:
    proj = write_project(tmp_path / "app", reg.dir.as_uri(), {"@acme/weather": "^1"})
    cache = tmp_path / "cache"
    assert installed(cli(cache, "install", "--project", str(proj), "--json"))["@acme/weather"] == "1.2.0"
    return proj, cache


def lock_entry(proj: Path, name: str = "@acme/weather") -> dict:
    return json.loads(proj.with_name("extism.lock").read_text())["plugins"][name]


# ---- the model ---------------------------------------------------------------------------------------


def test_permission_digest_is_stable() -> None:
    a = PermissionSet.build(hosts=["B.example", "a.example"], config=["k"], host_functions=["log", "kv"])
    b = PermissionSet.build(hosts=["a.example", "b.example", "a.example"], config=["k"], host_functions=["kv", "log"])
    assert a == b and a.digest == b.digest
    # the canonical form is part of the lock format: a change here changes every user's extism.lock
    assert PermissionSet.build().to_dict() == {
        "hosts": [], "paths": {}, "config": [], "host_functions": [], "wasi": False,
        "memory_mib": 64, "timeout_ms": 30000,
    }  # fmt: skip
    assert PermissionSet.build().digest == "59c6b6f2aa8f2435c029c252ec97d80557a4473e743e3687136fb0664d116af7"
    weather = PermissionSet.from_manifest({"permissions": WEATHER["permissions"]})
    assert weather.digest == "a1cb702967d475a129589b7aba8d44b00d989124d13a5336a93196f12971383f"
    assert PermissionSet.from_dict(json.loads(json.dumps(weather.to_dict()))).digest == weather.digest
    assert a.digest != PermissionSet.build(hosts=["a.example"], config=["k"], host_functions=["log", "kv"]).digest


def test_diff_per_kind() -> None:
    old = PermissionSet.build(hosts=["a.example"], paths={"/data": "/data:rw"}, config=["k"], memory_mib=16)
    new = PermissionSet.build(
        hosts=["a.example", "b.example"], paths={"/data": "/data"}, host_functions=["kv"], wasi=True, memory_mib=64
    )
    d = diff(old, new)
    assert d.added == {"hosts": ("b.example",), "host_functions": ("kv",)}  # rw → ro is not "more"
    assert d.removed == {"paths": ("/data → /data:rw",), "config": ("k",)}
    assert d.changed == {"wasi": (False, True), "memory_mib": (16, 64)}
    assert d.widened and "+ hosts: b.example" in d.lines() and "memory_mib: 16 → 64" in d.lines()
    assert not diff(new, old).added.get("hosts") and diff(new, new).empty
    assert not diff(PermissionSet.build(timeout_ms=9000), PermissionSet.build(timeout_ms=5000)).widened


def test_uncovered_by_grants() -> None:
    old = PermissionSet.build(hosts=["a.example"])
    new = PermissionSet.build(
        hosts=["a.example", "x.b.example"], config=["token"], host_functions=["kv_get"], memory_mib=128
    )
    change = diff(old, new)
    assert uncovered(change, Grant()).added == {
        "hosts": ("x.b.example",), "config": ("token",), "host_functions": ("kv_get",)
    }  # fmt: skip
    covered = Grant(hosts=("*.b.example",), config={"token": "${T}"}, host_functions=("kv",), memory_mib=256)
    assert uncovered(change, covered).empty
    assert uncovered(change, Grant(requested=True)).empty
    assert uncovered(diff(old, PermissionSet.build(hosts=["a.example"], wasi=True)), covered).changed == {
        "wasi": (False, True)
    }


# ---- extism.lock ---------------------------------------------------------------------------------------


def test_lock_records_permissions_digest_and_readable_set(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    entry = lock_entry(proj)["permissions"]
    assert entry["hosts"] == ["api.weather.example"] and entry["config"] == ["api_key"]
    assert entry["wasi"] is False and entry["memory_mib"] == 64 and entry["timeout_ms"] == 30000
    assert entry["digest"] == PermissionSet.from_dict(entry).digest
    assert entry["digest"] == reg.repo().index("@acme/weather").get("1.2.0").permission_set().digest
    before = proj.with_name("extism.lock").read_bytes()
    p = cli(cache, "install", "--project", str(proj))  # again, and from a fresh cache: the same bytes
    assert p.returncode == 0 and proj.with_name("extism.lock").read_bytes() == before
    p = cli(proj.parent / "cache2", "install", "--project", str(proj), "--frozen")
    assert p.returncode == 0 and proj.with_name("extism.lock").read_bytes() == before


def test_attack_hand_edited_lock_permissions_are_refused(locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    lock_path = proj.with_name("extism.lock")
    doc = json.loads(lock_path.read_text())
    doc["plugins"]["@acme/weather"]["permissions"]["hosts"].append(NEW_HOST)  # digest left as it was
    lock_path.write_text(json.dumps(doc))
    with pytest.raises(LockError, match="digest: does not match the recorded permissions"):
        read_lock(lock_path)
    assert_one_line_error(cli(cache, "install", "--project", str(proj)), "digest: does not match")


def test_lock_without_permissions_gets_them_recorded(reg: Reg, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    lock_path = proj.with_name("extism.lock")
    doc = json.loads(lock_path.read_text())
    for entry in doc["plugins"].values():
        del entry["permissions"]  # a lock written before permissions were recorded
    lock_path.write_text(json.dumps(doc))
    assert cli(cache, "install", "--project", str(proj)).returncode == 0
    assert lock_entry(proj)["permissions"]["hosts"] == ["api.weather.example"]


# ---- the gate ------------------------------------------------------------------------------------------


def test_update_asking_for_a_new_host_stops_until_granted(
    reg: Reg, wider: Artifacts, locked_app: tuple[Path, Path]
) -> None:
    proj, cache = locked_app
    reg.repo().publish([wider.wasm])
    lock_before = proj.with_name("extism.lock").read_bytes()
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather")
    assert_one_line_error(
        p,
        "@acme/weather 1.2.0 → 1.3.0 asks for more than extism.lock records",
        f"+ hosts: {NEW_HOST}",
        f'add to grants."@acme/weather" in extism.yaml (beside what it already grants): {{hosts: [{NEW_HOST}]}}',
        "--accept-permissions",
        "nothing was installed or written",
    )
    assert proj.with_name("extism.lock").read_bytes() == lock_before
    # a plain install keeps the locked 1.2.0: nothing asks for more, nothing stops
    assert installed(cli(cache, "install", "--project", str(proj), "--json"))["@acme/weather"] == "1.2.0"

    proj.write_text(proj.read_text() + f'grants:\n  "@acme/weather": {{hosts: [api.weather.example, {NEW_HOST}]}}\n')
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather", "--json")
    assert installed(p)["@acme/weather"] == "1.3.0"
    assert "asks for more, already granted in extism.yaml" in p.stderr and f"+ hosts: {NEW_HOST}" in p.stderr
    assert NEW_HOST in lock_entry(proj)["permissions"]["hosts"]
    change = next(e for e in json.loads(p.stdout)["plugins"] if e["name"] == "@acme/weather")["permission_change"]
    assert change["added"] == {"hosts": [NEW_HOST]}


def test_update_asking_for_more_passes_with_accept_permissions(
    reg: Reg, wider: Artifacts, locked_app: tuple[Path, Path]
) -> None:
    proj, cache = locked_app
    reg.repo().publish([wider.wasm])
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather", "--accept-permissions")
    assert p.returncode == 0, p.stderr
    assert "accepted (--accept-permissions)" in p.stderr and f"+ hosts: {NEW_HOST}" in p.stderr
    assert lock_entry(proj)["version"] == "1.3.0" and NEW_HOST in lock_entry(proj)["permissions"]["hosts"]


def test_wildcard_grant_covers_the_new_host(reg: Reg, wider: Artifacts, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    reg.repo().publish([wider.wasm])
    proj.write_text(proj.read_text() + 'grants:\n  "*": {hosts: ["*.weather.example"]}\n')
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather")
    assert p.returncode == 0, p.stderr


def test_add_gets_the_gate_too(reg: Reg, wider: Artifacts, locked_app: tuple[Path, Path]) -> None:
    proj, cache = locked_app
    reg.repo().publish([wider.wasm])
    assert_one_line_error(cli(cache, "add", "@acme/weather@^1.3", "--project", str(proj)), f"+ hosts: {NEW_HOST}")
    assert '"^1"' in proj.read_text()  # extism.yaml untouched too


# ---- the index ------------------------------------------------------------------------------------------


def test_index_records_the_permission_diff_against_the_previous_version(reg: Reg, wider: Artifacts) -> None:
    reg.repo().publish([wider.wasm])
    idx = reg.repo().index("@acme/weather")
    assert idx.get("1.3.0").permissions_diff == {
        "against": "1.2.0",
        "added": {"hosts": [NEW_HOST]},
        "removed": {},
        "changed": {},
    }
    assert idx.get("1.0.0").permissions_diff is None  # the first version has nothing to compare with
    assert idx.get("1.1.0").permissions_diff == {"against": "1.0.0", "added": {}, "removed": {}, "changed": {}}


def test_registry_show_prints_the_permission_diff(
    reg: Reg, wider: Artifacts, capsys: pytest.CaptureFixture[str]
) -> None:
    from registry_static.cli import main

    reg.repo().publish([wider.wasm])
    reg.repo().add_advisory("@acme/weather", affected="<1.3.0", severity="moderate", summary="s", fixed="1.3.0")
    assert main(["show", str(reg.dir), "@acme/weather", "--cache", str(reg.dir.parent / "c")]) == 0
    out = capsys.readouterr().out
    assert f"permissions vs 1.2.0: + hosts: {NEW_HOST}" in out and "(moderate) <1.3.0, fixed in 1.3.0: s" in out


def test_registry_publish_shows_the_permission_diff(
    reg: Reg, wider: Artifacts, capsys: pytest.CaptureFixture[str]
) -> None:
    from registry_static.cli import main

    assert main(["publish", str(reg.dir), str(wider.wasm), "--keys", str(reg.keys)]) == 0
    assert f"permissions vs 1.2.0: + hosts: {NEW_HOST}" in capsys.readouterr().out


def test_attack_lock_baseline_widened_by_hand_is_refused(
    reg: Reg, wider: Artifacts, locked_app: tuple[Path, Path]
) -> None:
    proj, cache = locked_app
    reg.repo().publish([wider.wasm])
    lock_path = proj.with_name("extism.lock")
    doc = json.loads(lock_path.read_text())
    entry = doc["plugins"]["@acme/weather"]
    widened = PermissionSet.from_dict({**entry["permissions"], "hosts": ["api.weather.example", NEW_HOST]})
    entry["permissions"] = {"digest": widened.digest, **widened.to_dict()}  # a consistent, forged baseline
    lock_path.write_text(json.dumps(doc))
    p = cli(cache, "install", "--project", str(proj), "--upgrade", "@acme/weather")
    assert_one_line_error(p, "records other permissions than the registry's signed index")
    assert json.loads(lock_path.read_text())["plugins"]["@acme/weather"]["version"] == "1.2.0"


def test_turning_on_http_response_headers_is_asking_for_more() -> None:
    """A new version that starts reading response headers is stopped like a new host, until the user
    grants `http_response_headers: true`; a set without it keeps its old digest."""
    from plugin_format.permissions import Grant, PermissionSet, diff, grant_snippet, uncovered

    old = PermissionSet.build(hosts=["api.example"])
    new = PermissionSet.build(hosts=["api.example"], http_response_headers=True)
    assert "http_response_headers" not in old.to_dict() and old.digest != new.digest
    change = diff(old, new)
    assert change.widened and change.lines() == ["+ http_response_headers"]
    left = uncovered(change, Grant())
    assert not left.empty and "http_response_headers: true" in grant_snippet(left)
    assert uncovered(change, Grant(http_response_headers=True)).empty
    assert PermissionSet.from_dict(new.to_dict()) == new
