"""Lifecycle hooks (plugin.yaml `hooks:`): exports the package manager runs in the sandbox with the
plugin's granted permissions. @demo/notes 1.0.0 keeps one note under kv key `note`; 2.0.0 keeps a
JSON list under `notes` and migrates in `on_update`; 3.0.0's `on_update` writes, then fails. All
three are real C plugins, signed, published to a signed registry and installed with the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from extism_platform.grants import grants_from_project
from extism_platform.host.kv import KVStore, StagedKV
from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_lock
from hatch_extism.build import build_artifacts
from plugin_format.errors import ManifestError, ModuleError
from plugin_format.manifest import load_manifest
from plugin_format.signing import load_private_key
from tests.conftest import run_cli
from tests.run.conftest import need_toolchains, publish_registry

NOTES = "@demo/notes"
CLI = ["-m", "extism_platform.cli.plugin"]

PRELUDE = r"""#include "extism-pdk.h"
EXTISM_IMPORT_USER("kv_get") ExtismHandle kv_get(ExtismHandle key);
EXTISM_IMPORT_USER("kv_set") void kv_set(ExtismHandle key, ExtismHandle value);
EXTISM_IMPORT_USER("kv_delete") void kv_delete(ExtismHandle key);

static void put(const char *key, const void *value, uint64_t n) {
    kv_set(extism_alloc_string(key), extism_alloc_bytes(value, n));
}
/* the hook's JSON input, kept so the test sees what the hook was told */
EXTISM_EXPORT("remember_hook") int32_t remember_hook(void) {
    uint64_t n; uint8_t *in = extism_input(&n);
    put("last_hook", in, n);
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
    """extism.yaml on a registry with the three versions, installed with the real CLI."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.path = root / "extism.yaml"
        self.lock = root / "extism.lock"
        self.state = root / "state"
        self.env = {
            "EXTISM_PLATFORM_CACHE": str(root / "cache"),
            "EXTISM_PLATFORM_STATE": str(root / "state-default"),
            "EXTISM_AUDIT_LOG": str(root / "audit.jsonl"),
        }

    def want(self, version: str | None, *, grant_kv: bool = True) -> None:
        """extism.yaml wanting that version of @demo/notes (None: no plugin)."""
        grants = f'grants:\n  "{NOTES}": {{host_functions: [kv]}}\n' if grant_kv else ""
        plugins = f'\n  "{NOTES}": "{version}"' if version else " {}"
        self.path.write_text(f"registries:\n  default: {self.url}\nplugins:{plugins}\n{grants}")

    def install(self) -> Any:
        return run_cli(
            *CLI, "install", "--project", str(self.path), "--state-dir", str(self.state), "--json", env=self.env
        )

    def call(self, export: str, data: bytes = b"") -> bytes:
        """One call on the installed plugin, on the kv store the MCP server would use."""
        doc = yaml.safe_load(self.path.read_text())
        host = Host(grants=grants_from_project(doc.get("grants") or {}, "extism.yaml"), kv=self.kv())
        try:
            host.add_all(from_lock(self.lock, cache_dir=self.root / "cache"))
            return host.call(NOTES, export, data).output
        finally:
            host.close()

    def kv(self) -> KVStore:
        return KVStore(self.state / "kv.sqlite3")

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
    audit = [json.loads(line) for line in (project.root / "audit.jsonl").read_text().splitlines()]
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
    project.want("2.0.0")
    assert project.call("get") == b'["buy milk"]'


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
