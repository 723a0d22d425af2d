"""`extism-plugin publish` to where users publish: a configured default directory, a git remote (served by
`git daemon` on 127.0.0.1, then its tree served over HTTP as a Pages site would) and an OCI registry
(Debian's `docker-registry`, the CNCF distribution registry, on 127.0.0.1); each then installed and
called over MCP. Plus the `--registry` forms that are refused, and what each message says."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from hatch_extism.build import Artifacts
from registry_static.git_publish import publish_to_git
from registry_static.repository import Repository
from registry_static.server import BackgroundServer
from registry_static.targets import parse_target
from tests.conftest import ROOT, run_cli

from .conftest import Authors, Reg
from .helpers import free_port

PLUGIN_CLI = "extism_platform.cli.plugin"
SERVER_CLI = "extism_platform.cli.mcp_server"


def project_of(art: Artifacts) -> Path:
    """The plugin project a session-built artifact came from (plugin.yaml beside dist/)."""
    return art.wasm.parent.parent


def cli(env: dict[str, str], *args: str, module: str = PLUGIN_CLI, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run_cli("-m", module, *args, env=env, cwd=cwd, timeout=180)


@pytest.fixture
def env(tmp_path: Path, authors: Authors) -> dict[str, str]:
    """A user of their own: config dir, cache and trusted author keys under tmp_path."""
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(authors.pub("alice"), trusted / "alice.pem.pub")
    return {
        "EXTISM_PLATFORM_CONFIG": str(tmp_path / "config"),
        "EXTISM_PLATFORM_CACHE": str(tmp_path / "cache"),
        "EXTISM_PLATFORM_STATE": str(tmp_path / "state"),
        "EXTISM_TRUSTED_KEYS": str(trusted),
        "EXTISM_REGISTRY_KEYS": "",
        "PYTHONPATH": str(ROOT),
    }


def one_line_error(p: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert p.returncode != 0, p.stdout
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr, p.stderr
    for n in needles:
        assert n in p.stderr, p.stderr
    return p.stderr


def mcp_call(args: list[str], tool: str, arguments: dict[str, Any], env: dict[str, str], cwd: Path) -> Any:
    """Start extism-mcp-server with `args` over stdio, call `tool` with a real MCP client."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", SERVER_CLI, *args], env=env, cwd=str(cwd))

    async def main() -> Any:
        with anyio.fail_after(90):
            async with Client(params) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert tool in tools, tools
                return await client.call_tool(tool, arguments)

    return anyio.run(main)


def assert_greeted(result: Any, name: str) -> None:
    assert not result.isError, result
    text = "".join(getattr(c, "text", "") for c in result.content)
    assert json.loads(text) == {"name": name}, text


# ------------------------------------------------------------------ --registry forms


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("./registry", "dir"),
        ("file:///srv/registry", "dir"),
        ("git+https://git.example/acme/plugins.git", "git"),
        ("git+ssh://git@git.example/acme/plugins.git", "git"),
        ("git+file:///srv/plugins.git", "git"),
        ("git://127.0.0.1:9418/plugins.git", "git"),
        ("git@git.example:acme/plugins.git", "git"),
        ("../plugins.git", "git"),
        ("oci://127.0.0.1:5000/plugins", "oci"),
    ],
)
def test_registry_forms_accepted(value: str, kind: str, tmp_path: Path) -> None:
    assert parse_target(value, tmp_path).kind == kind


@pytest.mark.parametrize(
    ("value", "needles"),
    [
        ("http://127.0.0.1:8000", ("where a registry is served from", "git+http://127.0.0.1:8000", "oci://127.0.0.1:8000/REPO")),
        ("https://plugins.example.com/", ("cannot be published to", "the directory it serves")),
        ("127.0.0.1:8000", ("looks like host:port", "oci://127.0.0.1:8000/REPO")),
        ("ftp://x/y", ("unsupported scheme ftp://",)),
        ("oci://127.0.0.1:5000", ("needs a repository",)),
        ("oci://127.0.0.1:5000/plugins:1.0.0", ("without a tag or digest",)),
    ],
)
def test_bad_registry_forms_say_what_to_pass(
    value: str, needles: tuple[str, ...], built: dict[str, Artifacts], env: dict[str, str], tmp_path: Path
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    p = cli(env, "publish", str(project_of(built["greeter@0.1.0"])), "--registry", value, cwd=cwd)
    one_line_error(p, *needles)
    assert "not a registry" not in p.stderr
    assert list(cwd.iterdir()) == [], "nothing may be created (no directory named after a URL)"


def test_publish_without_a_registry_names_the_settings(built: dict[str, Artifacts], env: dict[str, str]) -> None:
    p = cli(env, "publish", str(project_of(built["greeter@0.1.0"])))
    one_line_error(p, "no registry to publish to", "--registry", "[tool.extism-platform.publish]", "config.yaml")


# ------------------------------------------------------------------ configured default: a directory


def test_publish_with_the_users_default_registry(
    reg: Reg, built: dict[str, Artifacts], env: dict[str, str], tmp_path: Path
) -> None:
    config = Path(env["EXTISM_PLATFORM_CONFIG"])
    config.mkdir()
    (config / "config.yaml").write_text(yaml.safe_dump({"publish": {"registry": str(reg.dir), "keys": str(reg.keys)}}))
    p = cli(env, "publish", str(project_of(built["@acme/weather@1.3.0"])), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["target"] == "dir" and doc["registry"] == str(reg.dir)
    assert "1.3.0" in [v.version for v in reg.repo().index("@acme/weather").versions]


def test_a_projects_default_beats_the_users(
    reg: Reg, built: dict[str, Artifacts], env: dict[str, str], tmp_path: Path
) -> None:
    config = Path(env["EXTISM_PLATFORM_CONFIG"])
    config.mkdir()
    (config / "config.yaml").write_text("publish:\n  registry: /nonexistent/elsewhere\n")
    proj = tmp_path / "proj"
    shutil.copytree(project_of(built["@acme/weather@1.4.0"]), proj)
    (proj / "pyproject.toml").write_text(
        f'[tool.extism-platform.publish]\nregistry = "{reg.dir}"\nkeys = "{reg.keys}"\n'
    )
    p = cli(env, "publish", str(proj))
    assert p.returncode == 0, p.stderr
    assert f"published @acme/weather@1.4.0 to {reg.dir}" in p.stdout
