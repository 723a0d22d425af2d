"""Lifecycle hooks (plugin.yaml `hooks:`): exports the package manager runs in the sandbox with the
plugin's granted permissions. @demo/notes 1.0.0 keeps one note under kv key `note`; 2.0.0 keeps a
JSON list under `notes` and migrates in `on_update`; 3.0.0's `on_update` writes, then fails. All
three are real C plugins, signed, published to a signed registry and installed with the CLI. Every
hook that runs appends its input to kv key `hook_log`, so a test sees each hook's committed effect
and how many times it happened.

"Installed here" is the kv store's install record (extism_platform/hooks.py): a new machine, or a
fresh --state-dir, runs on_install even from a committed lock with `install --frozen`; and a kill -9
on either side of the commit (plugin_format/faults.py points `hooks-ran`, `hooks-committed`) still
applies each hook exactly once."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from extism_platform.grants import grants_from_project
from extism_platform.hooks import RECORDS, HookError, InstallRecord, plan_lifecycle, run_lifecycle
from extism_platform.host.kv import KV, KV_ENV, KVStore, StagedKV, open_kv
from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_lock
from hatch_extism.build import build_artifacts
from plugin_format.errors import ManifestError, ModuleError
from plugin_format.faults import CRASH_ENV, POINTS
from plugin_format.manifest import load_manifest
from plugin_format.signing import load_private_key
from tests.conftest import run_cli
from tests.run.conftest import need_toolchains, publish_registry
from tests.run.mcp_http import redis_server

NOTES = "@demo/notes"
CLI = ["-m", "extism_platform.cli.plugin"]

PRELUDE = r"""#include "extism-pdk.h"
EXTISM_IMPORT_USER("kv_get") ExtismHandle kv_get(ExtismHandle key);
EXTISM_IMPORT_USER("kv_set") void kv_set(ExtismHandle key, ExtismHandle value);
EXTISM_IMPORT_USER("kv_delete") void kv_delete(ExtismHandle key);

static void put(const char *key, const void *value, uint64_t n) {
    kv_set(extism_alloc_string(key), extism_alloc_bytes(value, n));
}
/* the hook's JSON input, kept so the test sees what the hook was told, and appended to
   "hook_log" (one line per run that was committed: not idempotent on purpose) */
EXTISM_EXPORT("remember_hook") int32_t remember_hook(void) {
    uint64_t n; uint8_t *in = extism_input(&n);
    put("last_hook", in, n);
    ExtismBuffer b = {0};
    ExtismHandle h = kv_get(extism_alloc_string("hook_log"));
    if (h) { uint64_t m; uint8_t *old = extism_load_block(h, &m); extism_buffer_append(&b, old, m); }
    extism_buffer_append(&b, in, n);
    extism_buffer_append_str(&b, "\n");
    put("hook_log", b.data, b.len);
    return 0;
}
EXTISM_EXPORT("add") int32_t add(void) {
    uint64_t n; uint8_t *in = extism_input(&n);
    put(LAYOUT_KEY, in, n);
    return 0;
}
EXTISM_EXPORT("get") int32_t get(void) {
    ExtismHandle h = kv_get(extism_alloc_string(LAYOUT_KEY));
    if (h) extism_output_handle(h);
    return 0;
}
"""

MIGRATE_V2 = r"""
/* v1 kept one note under "note"; v2 keeps a JSON list under "notes" */
EXTISM_EXPORT("migrate") int32_t migrate(void) {
    remember_hook();
    ExtismHandle h = kv_get(extism_alloc_string("note"));
    if (!h) return 0;
    uint64_t n; uint8_t *old = extism_load_block(h, &n);
    ExtismBuffer b = {0};
    extism_buffer_append_str(&b, "[\"");
    extism_buffer_append(&b, old, n);
    extism_buffer_append_str(&b, "\"]");
    put("notes", b.data, b.len);
    kv_delete(extism_alloc_string("note"));
    return 0;
}
"""

MIGRATE_V3 = r"""
EXTISM_EXPORT("migrate") int32_t migrate(void) {
    put("notes", "half-migrated", 13);
    return extism_error("cannot migrate: layout 3 is not ready");
}
"""

VERSIONS: dict[str, tuple[str, str, dict[str, str]]] = {
    "1.0.0": ("note", "", {"on_install": "remember_hook"}),
    "2.0.0": (
        "notes",
        MIGRATE_V2,
        {"on_install": "remember_hook", "on_update": "migrate", "on_uninstall": "remember_hook"},
    ),
    "3.0.0": ("notes", MIGRATE_V3, {"on_update": "migrate"}),
}


@pytest.fixture(scope="session")
def notes_wasms(tmp_path_factory: pytest.TempPathFactory, author_key: Path) -> list[Path]:
    """The three versions, built once with the real C compiler and signed."""
    need_toolchains("c")
    root = tmp_path_factory.mktemp("notes")
    out = []
    for version, (layout, extra, hooks) in VERSIONS.items():
        proj = root / version
        (proj / "src").mkdir(parents=True)
        (proj / "src" / "notes.c").write_text(f'#define LAYOUT_KEY "{layout}"\n' + PRELUDE + extra)
        doc = {
            "name": NOTES,
            "version": version,
            "language": "c",
            "license": "MIT",
            "source": "src",
            "exports": [{"name": "add"}, {"name": "get"}],
            "permissions": {"host_functions": ["kv"]},
            "hooks": hooks,
        }
        (proj / "plugin.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        out.append(build_artifacts(load_manifest(proj), root / "dist", key=load_private_key(author_key)).wasm)
    return out


class Project:
    """extism.yaml on a registry with the three versions, installed with the real CLI. `machine`: the
    directory of its cache and state (another one is another machine)."""

    def __init__(self, root: Path, url: str, machine: Path | None = None) -> None:
        self.root, self.url = root, url
        machine = machine or root
        self.path = root / "extism.yaml"
        self.lock = root / "extism.lock"
        self.state = machine / "state"
        self.cache = machine / "cache"
        self.audit = machine / "audit.jsonl"
        self.kv_url: str | None = None
        self.env = {
            "EXTISM_PLATFORM_CACHE": str(self.cache),
            "EXTISM_PLATFORM_STATE": str(machine / "state-default"),
            "EXTISM_AUDIT_LOG": str(self.audit),
        }

    def checkout(self, root: Path, machine: Path | None = None) -> Project:
        """This project's extism.yaml and extism.lock (as committed) in `root`, on `machine`
        (default: a new machine of its own)."""
        root.mkdir(parents=True)
        for f in (self.path, self.lock):
            shutil.copy(f, root / f.name)
        return Project(root, self.url, machine)

    def want(self, version: str | None, *, grant_kv: bool = True) -> None:
        """extism.yaml wanting that version of @demo/notes (None: no plugin)."""
        grants = f'grants:\n  "{NOTES}": {{host_functions: [kv]}}\n' if grant_kv else ""
        plugins = f'\n  "{NOTES}": "{version}"' if version else " {}"
        self.path.write_text(f"registries:\n  default: {self.url}\nplugins:{plugins}\n{grants}")

    def install(self, *options: str, crash_at: str | None = None) -> Any:
        env = {**self.env, **({CRASH_ENV: crash_at} if crash_at else {})}
        return run_cli(
            *CLI, "install", *options, "--project", str(self.path), "--state-dir", str(self.state), "--json", env=env
        )

    def hooks(self, *options: str) -> list[tuple[str, str | None, str | None]]:
        """`install OPTIONS` (it must succeed): (hook, old, new) of each hook it ran."""
        r = self.install(*options)
        assert r.returncode == 0, r.stderr
        return [(h["hook"], h["old_version"], h["new_version"]) for h in json.loads(r.stdout)["hooks"]]

    def hook_log(self) -> list[tuple[str, str | None, str | None]]:
        """(hook, old, new) of every hook run whose effect this machine's kv store holds, in order."""
        raw = self.kv_get("hook_log") or b""
        return [(d["hook"], d["old_version"], d["new_version"]) for d in map(json.loads, raw.decode().splitlines())]

    def locked_version(self) -> str:
        return str(json.loads(self.lock.read_text())["plugins"][NOTES]["version"])

    def audited_hook_calls(self) -> int:
        if not self.audit.exists():
            return 0
        records = [json.loads(line) for line in self.audit.read_text().splitlines()]
        return sum(1 for a in records if a.get("kind") == "call" and str(a.get("tool", "")).startswith("hook:"))

    def call(self, export: str, data: bytes = b"") -> bytes:
        """One call on the installed plugin, on the kv store the MCP server would use."""
        doc = yaml.safe_load(self.path.read_text())
        host = Host(grants=grants_from_project(doc.get("grants") or {}, "extism.yaml"), kv=self.kv())
        try:
            host.add_all(from_lock(self.lock, cache_dir=self.cache))
            return host.call(NOTES, export, data).output
        finally:
            host.close()

    def on_redis(self, port: int) -> None:
        """Hooks and calls on a Redis kv store (`$EXTISM_KV_URL`) instead of the state dir's sqlite."""
        self.kv_url = f"redis://127.0.0.1:{port}/0"
        self.env[KV_ENV] = self.kv_url

    def kv(self) -> KV:
        return open_kv(self.kv_url, self.state / "kv.sqlite3")

    def kv_get(self, key: str) -> bytes | None:
        lock = json.loads(self.lock.read_text())
        kv = self.kv()
        try:
            return kv.get(f"key:{lock['plugins'][NOTES]['key_id']}/{NOTES}", key.encode())
        finally:
            kv.close()


@pytest.fixture()
def project(notes_wasms: list[Path], author_key: Path, tmp_path: Path) -> Project:
    return Project(tmp_path, publish_registry(tmp_path, "@demo", Path(f"{author_key}.pub"), notes_wasms))


def _hook_input(p: Project) -> dict[str, Any]:
    raw = p.kv_get("last_hook")
    assert raw is not None
    return json.loads(raw)


def test_on_install_runs_in_the_sandbox_with_the_hook_input(project: Project) -> None:
    project.want("1.0.0")
    r = project.install()
    assert r.returncode == 0, r.stderr
    (run,) = json.loads(r.stdout)["hooks"]
    assert (run["plugin"], run["hook"], run["export"]) == (NOTES, "on_install", "remember_hook")
    assert _hook_input(project) == {"hook": "on_install", "plugin": NOTES, "old_version": None, "new_version": "1.0.0"}
    audit = [json.loads(line) for line in project.audit.read_text().splitlines()]
    assert any(a.get("kind") == "call" and a.get("export") == "remember_hook" for a in audit)


def test_on_update_migrates_kv_data_to_the_new_layout(project: Project) -> None:
    project.want("1.0.0")
    assert project.install().returncode == 0
    project.call("add", b"buy milk")
    assert project.kv_get("note") == b"buy milk"
    project.want("2.0.0")
    r = project.install()
    assert r.returncode == 0, r.stderr
    (run,) = json.loads(r.stdout)["hooks"]
    assert (run["hook"], run["export"], run["old_version"], run["new_version"]) == (
        "on_update",
        "migrate",
        "1.0.0",
        "2.0.0",
    )
    assert json.loads(project.lock.read_text())["plugins"][NOTES]["version"] == "2.0.0"
    assert project.call("get") == b'["buy milk"]'
    assert project.kv_get("note") is None
    assert _hook_input(project) == {
        "hook": "on_update",
        "plugin": NOTES,
        "old_version": "1.0.0",
        "new_version": "2.0.0",
    }


def test_failing_hook_rolls_back_lock_and_kv(project: Project) -> None:
    project.want("1.0.0")
    assert project.install().returncode == 0
    project.call("add", b"buy milk")
    project.want("2.0.0")
    assert project.install().returncode == 0
    lock_before = project.lock.read_bytes()
    project.want("3.0.0")
    r = project.install()
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("extism-plugin: error: plugin @demo/notes 3.0.0:")
    assert "lifecycle hook on_update (export migrate) failed" in r.stderr
    assert "cannot migrate: layout 3 is not ready" in r.stderr
    assert project.lock.read_bytes() == lock_before
    assert project.kv_get("notes") == b'["buy milk"]'  # the hook's write was never committed
    log = project.hook_log()
    assert log[-1] == ("on_update", "1.0.0", "2.0.0")
    project.want("2.0.0")
    assert project.call("get") == b'["buy milk"]'
    # the install record stayed at 2.0.0 too: back on 2.0.0 nothing runs again
    assert project.hooks() == [] and project.hook_log() == log


def test_hook_gets_only_the_granted_permissions(project: Project) -> None:
    """plugin.yaml asks for kv; extism.yaml grants nothing: the hook's kv_set is denied, so the
    install fails and writes no lock."""
    project.want("1.0.0", grant_kv=False)
    r = project.install()
    assert r.returncode != 0 and r.stderr.count("\n") == 1
    assert "lifecycle hook on_install" in r.stderr and "kv" in r.stderr
    assert not project.lock.exists()


def test_on_uninstall_runs_the_old_build_when_the_plugin_leaves_the_lock(project: Project) -> None:
    project.want("2.0.0")
    assert project.install().returncode == 0
    key_id = json.loads(project.lock.read_text())["plugins"][NOTES]["key_id"]
    project.want(None)
    r = project.install()
    assert r.returncode == 0, r.stderr
    assert NOTES not in json.loads(project.lock.read_text())["plugins"]
    kv = project.kv()
    raw = kv.get(f"key:{key_id}/{NOTES}", b"last_hook")
    kv.close()
    assert raw is not None
    assert json.loads(raw) == {"hook": "on_uninstall", "plugin": NOTES, "old_version": "2.0.0", "new_version": None}
    # the store no longer records it: installing it again is an install
    project.want("2.0.0")
    assert project.hooks() == [("on_install", None, "2.0.0")]


# ---- installed *here*: the kv store's install record ------------------------------------------------


def test_install_frozen_on_a_new_machine_runs_on_install_once(project: Project, tmp_path: Path) -> None:
    """A committed lock installed with `--frozen` on a machine (cache, kv store) that never had the
    plugin: on_install runs there, once; the lock is left as committed."""
    project.want("1.0.0")
    assert project.hooks() == [("on_install", None, "1.0.0")]
    ci = project.checkout(tmp_path / "ci")
    lock = ci.lock.read_bytes()
    r = ci.install("--frozen")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(h["hook"], h["export"]) for h in doc["hooks"]] == [("on_install", "remember_hook")]
    assert doc["written"] is False and ci.lock.read_bytes() == lock
    assert ci.hook_log() == [("on_install", None, "1.0.0")]
    # already installed on this machine: neither --frozen nor a plain install runs it again
    assert ci.hooks("--frozen") == [] and ci.hooks() == []
    assert ci.hook_log() == [("on_install", None, "1.0.0")] and ci.audited_hook_calls() == 1
    # and the first machine was never touched by the second's install
    assert project.hook_log() == [("on_install", None, "1.0.0")]


def test_a_fresh_state_dir_with_a_warm_cache_runs_on_install(project: Project) -> None:
    project.want("1.0.0")
    assert project.hooks() == [("on_install", None, "1.0.0")]
    project.state = project.root / "another-state"  # same cache, same lock, an empty kv store
    assert project.hooks("--frozen") == [("on_install", None, "1.0.0")]
    assert project.hooks("--frozen") == []


def test_a_new_checkout_on_the_same_kv_store_runs_nothing(project: Project, tmp_path: Path) -> None:
    """Installed here means in this kv store: another checkout (and a cold cache) on it finds the
    plugin's data already installed."""
    project.want("1.0.0")
    assert project.hooks() == [("on_install", None, "1.0.0")]
    other = project.checkout(tmp_path / "other", tmp_path / "other-machine")
    other.state = project.state
    assert other.hooks("--frozen") == []
    assert project.hook_log() == [("on_install", None, "1.0.0")]


def test_a_pulled_lock_that_moved_migrates_from_the_stores_version(project: Project, tmp_path: Path) -> None:
    """Machine B installed 1.0.0; A moves the lock to 2.0.0 and commits; B pulls and runs
    `install --frozen`: the lock did not change on B's disk between its commands' views, but B's kv
    store is at 1.0.0, so 2.0.0's on_update migrates it."""
    project.want("1.0.0")
    assert project.install().returncode == 0
    b = project.checkout(tmp_path / "b")
    assert b.hooks("--frozen") == [("on_install", None, "1.0.0")]
    b.call("add", b"buy milk")
    project.want("2.0.0")
    assert project.hooks() == [("on_update", "1.0.0", "2.0.0")]
    for f in (project.path, project.lock):  # git pull on B
        shutil.copy(f, b.root / f.name)
    assert b.hooks("--frozen") == [("on_update", "1.0.0", "2.0.0")]
    assert b.call("get") == b'["buy milk"]' and b.kv_get("note") is None
    assert b.hooks("--frozen") == []


# ---- exactly once across a kill -9 -----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "redis"])
def on_backend(request: pytest.FixtureRequest, project: Project, tmp_path: Path) -> Iterator[Project]:
    """`project` on the embedded sqlite store, then on Redis (where the commit is one MULTI/EXEC)."""
    if request.param == "sqlite":
        yield project
        return
    with redis_server(tmp_path) as port:
        project.on_redis(port)
        yield project


def _killed_update(project: Project, point: str) -> None:
    """1.0.0 installed with a note; extism.yaml wants 2.0.0; `install` SIGKILLs itself at `point`."""
    assert point in POINTS
    project.want("1.0.0")
    assert project.install().returncode == 0
    project.call("add", b"buy milk")
    project.want("2.0.0")
    r = project.install(crash_at=point)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert project.locked_version() == "1.0.0"  # extism.lock is never written before the commit


def test_kill_9_after_the_hooks_commit_finishes_without_running_them_again(on_backend: Project) -> None:
    """The kv writes (migration + install record) committed, extism.lock still at 1.0.0: the next
    install sees the hook applied for @demo/notes 1.0.0 → 2.0.0, runs nothing and writes the lock."""
    project = on_backend
    _killed_update(project, "hooks-committed")
    assert project.kv_get("notes") == b'["buy milk"]' and project.kv_get("note") is None
    assert project.hook_log() == [("on_install", None, "1.0.0"), ("on_update", "1.0.0", "2.0.0")]
    r = project.install()
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["hooks"] == [] and doc["written"] is True
    assert doc["hooks_already_applied"] == [{"plugin": NOTES, "version": "2.0.0"}]
    assert project.locked_version() == "2.0.0"
    assert project.hook_log() == [("on_install", None, "1.0.0"), ("on_update", "1.0.0", "2.0.0")]
    assert project.audited_hook_calls() == 2  # on_install, and the one on_update
    assert project.call("get") == b'["buy milk"]'
    assert project.hooks("--frozen") == [] and project.hooks() == []


def test_kill_9_before_the_hooks_commit_runs_them_once_on_the_next_install(on_backend: Project) -> None:
    """The hook ran on the staged store, then the kill: nothing was committed (the data is in the 1.0
    layout), so the next install runs it, and its effect happens once."""
    project = on_backend
    _killed_update(project, "hooks-ran")
    assert project.kv_get("note") == b"buy milk" and project.kv_get("notes") is None
    assert project.hook_log() == [("on_install", None, "1.0.0")]
    assert project.hooks() == [("on_update", "1.0.0", "2.0.0")]
    assert project.locked_version() == "2.0.0"
    assert project.hook_log() == [("on_install", None, "1.0.0"), ("on_update", "1.0.0", "2.0.0")]
    assert project.call("get") == b'["buy milk"]'


def test_another_command_changing_the_store_meanwhile_commits_nothing(project: Project) -> None:
    """Two commands on one kv store: the one whose install records changed between its plan and its
    commit writes nothing (no double migration), and says to run it again."""
    from registry_static.install import install
    from registry_static.lockfile import Lockfile
    from registry_static.project import load_project

    project.want("1.0.0")
    assert project.install().returncode == 0
    project.call("add", b"buy milk")
    project.want("2.0.0")
    inst = install(load_project(project.path), cache_dir=project.cache)
    assert inst.previous is not None
    kv = project.kv()
    try:
        fetched = {p.locked.name: p.fetched for p in inst.plugins}
        plan = plan_lifecycle(Lockfile.from_bytes(inst.previous, "extism.lock"), inst.lock, kv, fetched=fetched)
        assert [c.hook for c in plan.changes] == ["on_update"]
        (ns,) = plan.read
        other = project.kv()  # another command, committing first
        other.set(RECORDS, ns.encode(), InstallRecord(NOTES, "2.0.0", "0" * 64).to_bytes())
        other.close()
        grants = grants_from_project({NOTES: {"host_functions": ["kv"]}}, "extism.yaml")
        with pytest.raises(HookError, match="another command installed, updated or removed plugins"):
            run_lifecycle(plan, grants=grants, kv=kv)
    finally:
        kv.close()
    assert project.kv_get("note") == b"buy milk" and project.kv_get("notes") is None
    assert project.hook_log() == [("on_install", None, "1.0.0")]


def test_build_refuses_a_hook_the_module_does_not_export(tmp_path: Path) -> None:
    need_toolchains("c")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.c").write_text('#define LAYOUT_KEY "note"\n' + PRELUDE)
    doc = {
        "name": NOTES,
        "version": "1.0.0",
        "language": "c",
        "source": "src",
        "exports": [{"name": "get"}],
        "permissions": {"host_functions": ["kv"]},
        "hooks": {"on_update": "migrate"},
    }
    (tmp_path / "plugin.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ModuleError, match="hooks.on_update: the module does not export 'migrate'"):
        build_artifacts(load_manifest(tmp_path), tmp_path / "dist", key=None)


def test_a_hook_is_an_export_name_never_a_command(tmp_path: Path) -> None:
    doc = {"name": NOTES, "version": "1.0.0", "language": "c", "exports": [{"name": "get"}]}
    (tmp_path / "plugin.yaml").write_text(yaml.safe_dump({**doc, "hooks": {"on_install": "sh -c 'rm -rf ~'"}}))
    with pytest.raises(ManifestError, match="hooks.on_install"):
        load_manifest(tmp_path)


def test_staged_kv_commits_only_on_commit(tmp_path: Path) -> None:
    base = KVStore(tmp_path / "kv.sqlite3")
    base.set("p", b"a", b"1")
    staged = StagedKV(base)
    staged.set("p", b"a", b"2")
    staged.delete("p", b"b")
    staged.set("p", b"c", b"3")
    assert (staged.get("p", b"a"), base.get("p", b"a")) == (b"2", b"1")
    staged.discard()
    assert staged.get("p", b"a") == b"1" and base.get("p", b"c") is None
    staged.set("p", b"a", b"2")
    staged.delete("p", b"a")
    staged.commit()
    assert base.get("p", b"a") is None
    base.close()


def test_hooks_run_on_the_kv_store_named_by_kv_as_the_server_is(project: Project, tmp_path: Path) -> None:
    """`install --kv redis://…` (no $EXTISM_KV_URL, nothing in extism.yaml): the hook's writes and
    the install record land in Redis, where `extism-mcp-server --kv redis://…` reads, and nothing
    in the state dir's sqlite file."""
    with redis_server(tmp_path) as port:
        url = f"redis://127.0.0.1:{port}/0"
        project.want("1.0.0")
        assert project.hooks("--kv", url) == [("on_install", None, "1.0.0")]
        project.kv_url = url  # read where the server would
        assert _hook_input(project)["hook"] == "on_install"
        assert project.hooks("--kv", url) == []  # its record is there: not run again
        sqlite = project.state / "kv.sqlite3"
        if sqlite.exists():
            local = open_kv(None, sqlite)
            try:
                lock = json.loads(project.lock.read_text())
                assert local.get(f"key:{lock['plugins'][NOTES]['key_id']}/{NOTES}", b"last_hook") is None
            finally:
                local.close()
