"""`extism-plugin publish` to where users publish: a configured default directory, a git remote (served by
`git daemon` on 127.0.0.1, then its tree served over HTTP as a Pages site would) and an OCI registry
(Debian's `docker-registry`, the CNCF distribution registry, on 127.0.0.1); each then installed and
called over MCP. Plus the `--registry` forms that are refused, and what each message says."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
from tests.conftest import ROOT, free_port, run_cli, stop_process

from .conftest import Authors, Reg
from .helpers import wait_http

PLUGIN_CLI = "extism_platform.cli.plugin"
SERVER_CLI = "extism_platform.cli.mcp_server"


def project_of(art: Artifacts) -> Path:
    """The plugin project a session-built artifact came from (plugin.yaml beside dist/)."""
    return art.wasm.parent.parent


def cli(
    env: dict[str, str], *args: str, module: str = PLUGIN_CLI, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
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
    assert not result.is_error, result
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
        (
            "http://127.0.0.1:8000",
            ("where a registry is served from", "git+http://127.0.0.1:8000", "oci://127.0.0.1:8000/REPO"),
        ),
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


# ------------------------------------------------------------------ git remote


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60).stdout


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """`git daemon` on 127.0.0.1 serving the bare repositories under `base`, pushes allowed."""
    if not shutil.which("git"):
        pytest.skip("git is not installed (Debian: apt-get install git)")
    port = free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"git://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["git", "ls-remote", url + "plugins.git"], capture_output=True, timeout=10).returncode:
            assert time.monotonic() < deadline and proc.poll() is None, "git daemon did not start"
            time.sleep(0.1)
        yield url
    finally:
        stop_process(proc)


@pytest.fixture
def git_remote(reg: Reg, tmp_path: Path) -> Iterator[str]:
    """A bare repository holding the test registry (as `extism-registry init` + commit + push leave it),
    served by git daemon; yields its git:// URL."""
    srv = tmp_path / "srv"
    git("init", "-q", "--bare", "-b", "main", str(srv / "plugins.git"))
    seed = tmp_path / "seed"
    shutil.copytree(reg.dir, seed)
    (seed / ".extism-registry.lock").unlink(missing_ok=True)
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "registry", cwd=seed)
    git("push", "-q", str(srv / "plugins.git"), "main", cwd=seed)
    with git_daemon(srv) as url:
        yield url + "plugins.git"


def work_tree(root: Path, under: str = "publish/git") -> Path:
    """The publisher's cached clone (`<cache>/publish/git/<hash>/`)."""
    return next(d for d in (root / under).iterdir() if (d / ".git").is_dir())


def served_tree(remote: str, into: Path) -> Path:
    """What a Pages site serves: the files of the remote's head."""
    git("clone", "-q", "--depth", "1", remote, str(into))
    shutil.rmtree(into / ".git")
    return into


def test_publish_to_a_git_remote_then_install_and_call_over_mcp(
    reg: Reg, git_remote: str, built: dict[str, Artifacts], env: dict[str, str], tmp_path: Path
) -> None:
    p = cli(
        env,
        "publish",
        str(project_of(built["@acme/weather@1.3.0"])),
        "--registry",
        git_remote,
        "--keys",
        str(reg.keys),
        "--site",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["target"] == "git" and doc["branch"] == "main" and doc["attempts"] == 1
    site = served_tree(git_remote, tmp_path / "pages")
    assert git("log", "--format=%s", "-1", cwd=work_tree(Path(env["EXTISM_PLATFORM_CACHE"]))).strip() == (
        "publish @acme/weather 1.3.0"
    )
    assert not (site / ".extism-registry.lock").exists()
    assert "weather" in (site / "index.html").read_text()

    with BackgroundServer(site) as url:
        app = tmp_path / "app"
        app.mkdir()
        (app / "extism.yaml").write_text(f'registries:\n  default: {url}\nplugins:\n  "@acme/weather": "~1.3"\n')
        p = cli(env, "install", "--project", str(app / "extism.yaml"), "--json")
        assert p.returncode == 0, p.stderr
        assert [(x["name"], x["version"]) for x in json.loads(p.stdout)["plugins"] if x["direct"]] == [
            ("@acme/weather", "1.3.0")
        ]
    # the served tree's TUF metadata and the author's signature were checked by install; the server
    # runs the locked, cached copy (verified again) with no registry reachable any more
    result = mcp_call(
        ["--project", str(app / "extism.yaml"), "--no-audit"], "acme_weather-greet", {"name": "Zoë"}, env, app
    )
    assert_greeted(result, "Zoë")


def test_a_rejected_git_push_refetches_and_keeps_the_other_publish(
    reg: Reg, git_remote: str, built: dict[str, Artifacts], tmp_path: Path
) -> None:
    """Someone publishes 1.4.0 between our fetch and our push: our push is refused, we start again from
    their commit, and both versions end up in the remote."""

    def someone_else(attempt: int) -> None:
        if attempt == 1:
            other = publish_to_git(
                git_remote, [built["@acme/weather@1.4.0"].wasm], keys=reg.keys, work_root=tmp_path / "other"
            )
            assert other.attempts == 1

    res = publish_to_git(
        git_remote,
        [built["@acme/weather@1.3.0"].wasm],
        keys=reg.keys,
        work_root=tmp_path / "mine",
        before_push=someone_else,
    )
    assert res.attempts == 2
    tree = served_tree(git_remote, tmp_path / "check")
    versions = [v.version for v in Repository(tree, reg.keys).index("@acme/weather").versions]
    assert {"1.3.0", "1.4.0"} <= set(versions)
    subjects = git("log", "--format=%s", "-3", cwd=work_tree(tmp_path, "mine")).splitlines()
    assert subjects[:2] == ["publish @acme/weather 1.3.0", "publish @acme/weather 1.4.0"]


def test_git_publish_needs_the_registry_keys(git_remote: str, built: dict[str, Artifacts], env: dict[str, str]) -> None:
    p = cli(env, "publish", str(project_of(built["@acme/weather@1.3.0"])), "--registry", git_remote)
    one_line_error(p, "needs the registry's key directory", "--keys", "EXTISM_REGISTRY_KEYS")


# ------------------------------------------------------------------ OCI registry


@dataclass(frozen=True)
class OciRegistry:
    host: str  # 127.0.0.1:PORT
    storage: Path  # the registry's filesystem storage (for the tamper test)

    def blob(self, digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator[OciRegistry]:
    """Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1, storage in tmp, no auth."""
    exe = shutil.which("docker-registry")
    if exe is None:
        pytest.skip(
            "docker-registry is not installed (Debian package docker-registry; `nox -s tests` installs it when "
            "run as root on Debian)"
        )
    port = free_port()
    storage = tmp_path / "oci-storage"
    config = tmp_path / "oci-config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "error"},
                "storage": {"filesystem": {"rootdirectory": str(storage)}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    proc = subprocess.Popen([exe, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/")
        yield OciRegistry(f"127.0.0.1:{port}", storage)
    finally:
        stop_process(proc)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def pushed(oci_registry: OciRegistry, built: dict[str, Artifacts], env: dict[str, str]) -> dict[str, Any]:
    """greeter 0.1.0 (unscoped, no dependencies) published with `extism-plugin publish --registry oci://…/plugins`."""
    p = cli(
        env,
        "publish",
        str(project_of(built["greeter@0.1.0"])),
        "--registry",
        f"oci://{oci_registry.host}/plugins",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["target"] == "oci"
    return dict(doc["published"][0])


def test_oci_artifact_has_its_own_media_types(oci_registry: OciRegistry, pushed: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"http://{oci_registry.host}/v2/plugins/greeter/manifests/0.1.0",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed["digest"]
    manifest = json.loads(raw)
    assert manifest["artifactType"] == "application/vnd.extism-platform.plugin.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.extism-platform.wasm.v1+wasm",
        "application/vnd.extism-platform.plugin-json.v1+json",
        "application/vnd.extism-platform.signature.v1+json",
    ]
    assert manifest["annotations"]["org.opencontainers.image.version"] == "0.1.0"
    assert manifest["annotations"]["org.extism-platform.plugin.name"] == "greeter"
    assert pushed["reference"] == f"oci://{oci_registry.host}/plugins/greeter:0.1.0"


def test_publish_to_oci_then_install_and_call_over_mcp(
    oci_registry: OciRegistry, pushed: dict[str, Any], env: dict[str, str], tmp_path: Path, authors: Authors
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "extism.yaml").write_text(f'plugins:\n  "greeter": "{pushed["reference"]}"\n')
    p = cli(env, "install", "--project", str(app / "extism.yaml"), "--json")
    assert p.returncode == 0, p.stderr
    lock = json.loads((app / "extism.lock").read_text())["plugins"]["greeter"]
    repo = f"oci://{oci_registry.host}/plugins/greeter"
    assert lock["registry"] == f"{repo}@{pushed['digest']}" and lock["version"] == "0.1.0"
    assert lock["wasm_sha256"] == pushed["wasm_sha256"] and lock["key_id"] == pushed["key_id"]
    assert cli(env, "install", "--project", str(app / "extism.yaml"), "--frozen").returncode == 0

    result = mcp_call(["--project", str(app / "extism.yaml"), "--no-audit"], "greeter-greet", {"name": "Zoë"}, env, app)
    assert_greeted(result, "Zoë")
    # straight from the registry by digest, the author key given explicitly
    by_digest = f"{repo}@{pushed['digest']}"
    args = ["--plugin", by_digest, "--trust-key", str(authors.pub("alice")), "--no-audit"]
    assert_greeted(mcp_call(args, "greeter-greet", {"name": "Ada"}, env, app), "Ada")


def test_oci_publish_never_replaces_a_version(
    oci_registry: OciRegistry, pushed: dict[str, Any], built: dict[str, Artifacts], env: dict[str, str]
) -> None:
    p = cli(
        env,
        "publish",
        str(project_of(built["greeter@0.1.0"])),
        "--registry",
        f"oci://{oci_registry.host}/plugins",
    )
    one_line_error(p, "already published there", "bump the version")


def test_tampered_oci_layer_is_refused(
    oci_registry: OciRegistry, pushed: dict[str, Any], env: dict[str, str], tmp_path: Path, authors: Authors
) -> None:
    blob = oci_registry.blob("sha256:" + pushed["wasm_sha256"])
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: the registry serves it as the layer
    blob.write_bytes(bytes(data))
    app = tmp_path / "app"
    app.mkdir()
    (app / "extism.yaml").write_text(f'plugins:\n  "greeter": "{pushed["reference"]}"\n')
    p = cli(env, "install", "--project", str(app / "extism.yaml"))
    one_line_error(p, "the wasm layer does not match its digest", "tampered")
    assert not (app / "extism.lock").exists()
    assert not (Path(env["EXTISM_PLATFORM_CACHE"]) / "blobs" / "sha256" / pushed["wasm_sha256"]).exists()
    p = cli(env, "--plugin", pushed["reference"], "--list", "--no-audit", module=SERVER_CLI)
    one_line_error(p, "the wasm layer does not match its digest")


def test_oci_artifact_signed_by_an_untrusted_key_is_refused(
    pushed: dict[str, Any], env: dict[str, str], tmp_path: Path, authors: Authors
) -> None:
    stranger = {**env, "EXTISM_TRUSTED_KEYS": str(authors.pub("bob"))}
    app = tmp_path / "app"
    app.mkdir()
    (app / "extism.yaml").write_text(f'plugins:\n  "greeter": "{pushed["reference"]}"\n')
    one_line_error(cli(stranger, "install", "--project", str(app / "extism.yaml")), "no valid signature")
    p = cli(env, "--plugin", pushed["reference"], "--trust-key", str(authors.pub("bob")), "--list", module=SERVER_CLI)
    one_line_error(p, "no valid signature")


def test_an_oci_plugin_with_dependencies_says_where_to_install_it_from(
    oci_registry: OciRegistry, built: dict[str, Artifacts], env: dict[str, str], tmp_path: Path
) -> None:
    target = f"oci://{oci_registry.host}/plugins"
    assert cli(env, "publish", str(project_of(built["@acme/weather@1.3.0"])), "--registry", target).returncode == 0
    app = tmp_path / "app"
    app.mkdir()
    (app / "extism.yaml").write_text(f'plugins:\n  "@acme/weather": "{target}/acme/weather:1.3.0"\n')
    p = cli(env, "install", "--project", str(app / "extism.yaml"))
    one_line_error(p, "depends on @acme/units", "install it from one")


# ------------------------------------------------------------------ the unscoped namespace `_`


def test_unscoped_namespace_messages_name_the_command(
    tmp_path: Path, built: dict[str, Artifacts], env: dict[str, str]
) -> None:
    """A fresh registry: publishing an unscoped plugin says which command allows its key; `add-scope _`
    points at `add-author`; both helps say what `_` is."""
    repo = Repository.init(tmp_path / "registry", tmp_path / "keys")
    p = cli(
        env,
        "publish",
        str(project_of(built["greeter@0.1.0"])),
        "--registry",
        str(repo.dir),
        "--keys",
        str(tmp_path / "keys"),
    )
    one_line_error(
        p,
        "greeter: the unscoped namespace '_' (plugins without an @scope) has no author keys yet",
        f"`extism-registry keys add-author {repo.dir} _ AUTHOR.pem.pub`",
    )
    assert "packages has" not in p.stderr
    p = cli(
        env, "keys", "add-scope", str(repo.dir), "_", "--keys", str(tmp_path / "keys"), module="registry_static.cli"
    )
    one_line_error(p, "already exists", f"keys add-author {repo.dir} _ AUTHOR.pem.pub")
    for cmd in ("add-scope", "add-author"):
        h = cli(env, "keys", cmd, "--help", module="registry_static.cli").stdout
        assert "keys add-author DIR _" in " ".join(h.split()) or "'_'" in h, h
    readme = (ROOT / "README.md").read_text()
    assert "keys add-author ./registry _ " in readme and "keys add-scope ./registry @acme --author" in readme


# ---- an OCI registry that is down or failing: a bounded wait, one line naming it ---------------------


def _install_oci(env: dict[str, str], tmp_path: Path, reference: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "extism.yaml").write_text(f'plugins:\n  "greeter": "{reference}"\n')
    # oras's own retry slept 2 + 3**n seconds five times (over two minutes): 60 s is a bound, not a timing
    return run_cli("-m", PLUGIN_CLI, "install", "--project", str(app / "extism.yaml"), env=env, timeout=60)


def test_an_oci_registry_that_is_down_fails_at_once_naming_it(env: dict[str, str], tmp_path: Path) -> None:
    reference = f"oci://127.0.0.1:{free_port()}/plugins/greeter:0.1.0"  # nothing listens there
    one_line_error(_install_oci(env, tmp_path, reference), "127.0.0.1", "greeter")
    assert not (tmp_path / "app" / "extism.lock").exists()


def test_an_oci_registry_answering_503_is_retried_briefly(env: dict[str, str], tmp_path: Path) -> None:
    seen: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        reference = f"oci://127.0.0.1:{srv.server_address[1]}/plugins/greeter:0.1.0"
        one_line_error(_install_oci(env, tmp_path, reference), "greeter")
    finally:
        srv.shutdown()
        srv.server_close()
    assert 1 < len(seen) <= 3, seen  # tried again, a bounded number of times
