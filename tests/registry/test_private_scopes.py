"""Private scopes from the outside: `extism-registry serve --tokens` started on 127.0.0.1, raw HTTP and
`extism-plugin install`; the `login` store; tokens never in extism.lock, the audit log, errors or MCP
tool results."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
import yaml

from plugin_format.errors import RegistryError
from registry_static.access import AccessPolicy, parse_tokens, token_digest
from registry_static.client import RegistryClient
from registry_static.repository import Repository
from registry_static.site import build_site
from tests.conftest import ROOT, free_port, run_cli

from .conftest import Reg
from .helpers import process_server, recorder

ACME_TOKEN = "acme-" + secrets.token_hex(16)
BETA_TOKEN = "beta-" + secrets.token_hex(16)


@dataclass(frozen=True)
class Private:
    url: str
    dir: Path
    tokens: Path


@pytest.fixture(scope="module")
def private(registry_template: Reg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    """The shared registry with @acme private, its site rebuilt, served by the real CLI with a token file
    that holds only sha256 digests: one token reads @acme, one reads @beta."""
    base = tmp_path_factory.mktemp("private-registry")
    shutil.copytree(registry_template.dir, base / "registry", symlinks=True)
    shutil.copytree(registry_template.keys, base / "keys")
    repo = Repository(base / "registry", base / "keys")
    assert repo.set_access("@acme", True) == ["acme"]
    build_site(repo.dir)
    tokens = base / "tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {
                "tokens": [
                    {"name": "acme-ci", "sha256": hashlib.sha256(ACME_TOKEN.encode()).hexdigest(), "read": ["@acme"]},
                    {"name": "beta-ci", "sha256": hashlib.sha256(BETA_TOKEN.encode()).hexdigest(), "read": ["@beta"]},
                ]
            }
        )
    )
    assert ACME_TOKEN not in tokens.read_text()
    port = free_port()
    serve = ("-m", "registry_static.cli", "serve", str(repo.dir), "--port", str(port), "--tokens", str(tokens))
    with process_server(*serve, port=port, cwd=ROOT) as url:
        yield Private(url, repo.dir, tokens)


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


def private_paths(d: Path) -> dict[str, str]:
    """One file of each kind that belongs to @acme: its TUF role, an index file, a blob, a site page."""
    repo = Repository(d, Path("/nonexistent"))
    entry = repo.index("@acme/weather").versions[-1]
    return {
        "role": next((d / "metadata").glob("*.scope-acme.json")).relative_to(d).as_posix(),
        "index": next((d / "index" / "acme").glob("*.weather.json")).relative_to(d).as_posix(),
        "blob": f"blobs/sha256/{entry.plugin_json.sha256}",
        "page": "plugins/acme/weather.html",
        "listing": "scopes/acme/index.html",
    }


# ---- raw HTTP --------------------------------------------------------------------------------------


def test_anonymous_request_for_a_private_file_is_401_with_www_authenticate(private: Private) -> None:
    for kind, rel in private_paths(private.dir).items():
        status, headers, body = get(private.url + rel)
        assert status == 401, (kind, status)
        assert headers.get("WWW-Authenticate", "").startswith("Bearer"), kind
        assert body.startswith("this registry needs a token: @acme is private"), (kind, body)
        assert headers.get("Cache-Control") == "no-store"


def test_a_token_without_the_scope_is_403_naming_the_scope(private: Private) -> None:
    for kind, rel in private_paths(private.dir).items():
        status, _, body = get(private.url + rel, BETA_TOKEN)
        assert status == 403, (kind, status)
        assert "token 'beta-ci' may not read @acme" in body and "it may read @beta" in body, body
        assert BETA_TOKEN not in body


def test_an_unknown_token_is_401_saying_it_is_not_accepted(private: Private) -> None:
    status, _, body = get(private.url + private_paths(private.dir)["index"], "not-a-token-of-this-registry")
    assert status == 401 and "the token sent is not one it accepts" in body, body


def test_the_right_token_reads_every_private_file_and_shared_caches_may_not_keep_it(private: Private) -> None:
    for kind, rel in private_paths(private.dir).items():
        status, headers, body = get(private.url + rel, ACME_TOKEN)
        assert status == 200, (kind, status, body)
        assert headers["Cache-Control"].startswith("private"), (kind, headers["Cache-Control"])
        assert "Authorization" in headers.get("Vary", ""), kind


def test_public_scopes_and_top_level_metadata_stay_anonymous(private: Private) -> None:
    beta = next((private.dir / "index" / "beta").glob("*.tool.json")).relative_to(private.dir).as_posix()
    for rel in (beta, "metadata/timestamp.json", "metadata/1.root.json", "plugins/beta/tool.html", "search.json"):
        status, headers, _ = get(private.url + rel)
        assert status == 200, rel
        assert "Authorization" not in headers.get("Vary", ""), rel


def test_anonymous_site_listing_hides_the_private_scope(private: Private) -> None:
    for rel in ("", "index.html", "search.json"):
        status, _, body = get(private.url + rel)
        assert status == 200 and "@beta/tool" in body, rel
        assert "@acme" not in body and "plugins/acme/" not in body, rel
    status, _, body = get(private.url + "scopes/acme/", ACME_TOKEN)
    assert status == 200 and "@acme/weather" in body and "../../plugins/acme/weather.html" in body


def test_registry_json_is_not_served_when_scopes_are_private(private: Private) -> None:
    # its `featured` list may name private plugins
    assert get(private.url + "registry.json")[0] == 404


def test_an_anonymous_client_lists_only_what_it_may_read(
    private: Private, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXTISM_PLATFORM_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("EXTISM_REGISTRY_TOKEN_127_0_0_1", raising=False)
    names = RegistryClient(private.url, tmp_path / "a").packages()
    assert "@beta/tool" in names and not any(n.startswith("@acme/") for n in names)
    names = RegistryClient(private.url, tmp_path / "b", token=ACME_TOKEN).packages()
    assert "@acme/weather" in names


# ---- extism-plugin install ---------------------------------------------------------------------------


def project(d: Path, url: str, plugins: dict[str, str], token_env: str | None = "ACME_TOKEN") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    reg: object = {"url": url, "token_env": token_env} if token_env else url
    path = d / "extism.yaml"
    path.write_text(yaml.safe_dump({"registries": {"default": reg}, "plugins": plugins}))
    return path


def install(proj: Path, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "EXTISM_PLATFORM_CACHE": str(tmp / "cache"),
        "EXTISM_PLATFORM_CONFIG": str(tmp / "config"),
        "EXTISM_REGISTRY_TOKEN_127_0_0_1": "",
        "ACME_TOKEN": "",
    }
    return run_cli(
        "-m",
        "extism_platform.cli.plugin",
        "install",
        "--project",
        str(proj),
        "--json",
        env={**base, **env},
        timeout=120,
    )


def test_install_anonymous_is_refused_and_names_the_unset_variable(private: Private, tmp_path: Path) -> None:
    p = install(project(tmp_path / "p", private.url, {"@acme/units": "^0.3"}), tmp_path)
    assert p.returncode == 1, p.stderr
    assert "HTTP 401: this registry needs a token" in p.stderr
    assert "$ACME_TOKEN (extism.yaml token_env) is not set" in p.stderr, p.stderr
    assert not (tmp_path / "p" / "extism.lock").exists()


def test_install_with_a_wrong_scope_token_is_403_naming_the_scope(private: Private, tmp_path: Path) -> None:
    p = install(project(tmp_path / "p", private.url, {"@acme/units": "^0.3"}), tmp_path, ACME_TOKEN=BETA_TOKEN)
    assert p.returncode == 1 and "HTTP 403: token 'beta-ci' may not read @acme" in p.stderr, p.stderr
    assert BETA_TOKEN not in p.stderr + p.stdout


def test_install_with_the_right_token_succeeds(private: Private, tmp_path: Path) -> None:
    p = install(project(tmp_path / "p", private.url, {"@acme/units": "^0.3"}), tmp_path, ACME_TOKEN=ACME_TOKEN)
    assert p.returncode == 0, p.stderr
    assert {e["name"]: e["version"] for e in json.loads(p.stdout)["plugins"]} == {"@acme/units": "0.3.1"}


def test_the_token_reaches_no_lock_audit_log_error_or_tool_result(private: Private, tmp_path: Path) -> None:
    proj = project(tmp_path / "p", private.url, {"@acme/units": "^0.3"})
    p = install(proj, tmp_path, ACME_TOKEN=ACME_TOKEN)
    assert p.returncode == 0, p.stderr
    outputs = [p.stdout, p.stderr, proj.with_name("extism.lock").read_text()]
    # a failing command with the token set (an unknown plugin) → the error output
    bad = project(tmp_path / "bad", private.url, {"@acme/nope": "^1"})
    p = install(bad, tmp_path, ACME_TOKEN=ACME_TOKEN)
    assert p.returncode == 1 and "nope" in p.stderr, p.stderr
    outputs += [p.stdout, p.stderr]
    # the MCP server over stdio with the token in its environment: a tool result, an error result, the audit log
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "extism_platform.cli.mcp_server", "--project", str(proj), "--audit-log", str(audit)],
        env={
            "PYTHONPATH": str(ROOT),
            "EXTISM_PLATFORM_CACHE": str(tmp_path / "cache"),
            "EXTISM_PLATFORM_STATE": str(tmp_path / "state"),
            "ACME_TOKEN": ACME_TOKEN,
            "PATH": os.environ.get("PATH", ""),
        },
        cwd=str(tmp_path),
    )

    async def main() -> list[str]:
        with anyio.fail_after(60), (tmp_path / "stderr.txt").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as c:
                ok = await c.call_tool("acme_units-greet", {"name": "Zoë"})
                assert not ok.is_error, ok
                err = await c.call_tool("acme_units-greet", {"name": 5})
                assert err.is_error, err
                return [json.dumps(r.model_dump(mode="json"), ensure_ascii=False) for r in (ok, err)]

    outputs += anyio.run(main)
    outputs += [audit.read_text(), (tmp_path / "stderr.txt").read_text()]
    assert "Zoë" in outputs[-4] and audit.read_text().strip()
    for text in outputs:
        assert ACME_TOKEN not in text


def test_url_credentials_reach_the_registry_but_not_the_lock(private: Private, tmp_path: Path) -> None:
    url = private.url.replace("http://", f"http://ci:{ACME_TOKEN}@")
    proj = project(tmp_path / "p", url, {"@acme/units": "^0.3"}, token_env=None)
    p = install(proj, tmp_path)
    assert p.returncode == 0, p.stderr
    lock = proj.with_name("extism.lock").read_text()
    assert ACME_TOKEN not in lock + p.stdout + p.stderr and private.url in lock


# ---- login / logout ------------------------------------------------------------------------------------


def login(tmp: Path, *args: str, token: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "extism_platform.cli.plugin", *args],
        input=token,
        text=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "EXTISM_PLATFORM_CONFIG": str(tmp / "config"), **env},
    )


def test_login_writes_a_0600_file_and_install_uses_it(private: Private, tmp_path: Path) -> None:
    p = login(tmp_path, "login", private.url, "--token-stdin", token=ACME_TOKEN + "\n")
    assert p.returncode == 0 and ACME_TOKEN not in p.stdout + p.stderr, p.stderr
    store = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert not list(store.parent.glob(".*.tmp"))
    p = install(project(tmp_path / "p", private.url, {"@acme/units": "^0.3"}, token_env=None), tmp_path)
    assert p.returncode == 0, p.stderr


def test_login_without_a_tty_reads_stdin(private: Private, tmp_path: Path) -> None:
    p = login(tmp_path, "login", private.url, "--json", token=ACME_TOKEN + "\n")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["registry"] == private.url


def test_env_vars_win_over_the_login_store(private: Private, tmp_path: Path) -> None:
    assert login(tmp_path, "login", private.url, token=ACME_TOKEN).returncode == 0
    proj = project(tmp_path / "p", private.url, {"@acme/units": "^0.3"})
    p = install(proj, tmp_path, ACME_TOKEN=BETA_TOKEN)
    assert p.returncode == 1 and "HTTP 403" in p.stderr, p.stderr


def test_logout_forgets_the_token(private: Private, tmp_path: Path) -> None:
    assert login(tmp_path, "login", private.url, token=ACME_TOKEN).returncode == 0
    p = login(tmp_path, "logout", private.url)
    assert p.returncode == 0 and "logged out" in p.stdout
    assert ACME_TOKEN not in (tmp_path / "config" / "credentials.json").read_text()
    p = install(project(tmp_path / "p", private.url, {"@acme/units": "^0.3"}, token_env=None), tmp_path)
    assert p.returncode == 1 and "extism-plugin login" in p.stderr, p.stderr


def test_login_refuses_an_empty_token(private: Private, tmp_path: Path) -> None:
    p = login(tmp_path, "login", private.url, "--token-stdin", token="\n")
    assert p.returncode == 1 and "no token given" in p.stderr
    assert not (tmp_path / "config" / "credentials.json").exists()


# ---- the token file (unit) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"tokens": [{"name": "x", "read": ["@a"]}]}, "give exactly one of sha256"),
        ({"tokens": [{"sha256": "ab", "read": ["@a"]}]}, "tokens[0].sha256: expected 64 hex digits"),
        ({"tokens": [{"sha256": "a" * 64, "read": []}]}, "tokens[0].read: empty"),
        ({"tokens": [{"sha256": "a" * 64, "read": ["@A!"]}]}, "is not a scope"),
        ({"tokens": [{"sha256": "a" * 64, "read": ["*"], "admin": True}]}, "unknown field(s) admin"),
        ({"tokens": [{"token": "short", "read": ["*"]}]}, "at least 8 characters"),
        ({"users": []}, "one key, `tokens:`"),
    ],
)
def test_token_file_errors_name_the_field(doc: object, message: str) -> None:
    with pytest.raises(RegistryError, match=None) as info:
        parse_tokens(doc, "tokens.yaml")
    assert message in str(info.value)


def test_basic_auth_password_is_the_token(private: Private) -> None:
    import base64

    policy = AccessPolicy(private.dir, parse_tokens({"tokens": [{"token": ACME_TOKEN, "read": ["@acme"]}]}, "t"))
    rel = private_paths(private.dir)["index"]
    basic = "Basic " + base64.b64encode(f"ci:{ACME_TOKEN}".encode()).decode()
    assert policy.decide(rel, basic).status == 200
    assert policy.decide(rel, "Basic " + base64.b64encode(b"ci:wrong-token").decode()).status == 401
    assert policy.decide(rel, None).status == 401
    assert token_digest(ACME_TOKEN) == hashlib.sha256(ACME_TOKEN.encode()).digest()


def test_serve_token_shorthand_makes_everything_private(private: Private) -> None:
    policy = AccessPolicy.single_token(private.dir, ACME_TOKEN)
    assert policy.decide("index.html", None).status == 401
    assert policy.decide("metadata/timestamp.json", f"Bearer {ACME_TOKEN}").status == 200


def test_attack_a_stored_token_never_follows_a_redirect_to_another_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_static.credentials import login as store_login

    monkeypatch.setenv("EXTISM_PLATFORM_CONFIG", str(tmp_path / "config"))
    monkeypatch.delenv("EXTISM_REGISTRY_TOKEN_127_0_0_1", raising=False)
    with recorder() as (elsewhere, seen_elsewhere), recorder(redirect_to=elsewhere) as (registry, seen_registry):
        store_login(registry, ACME_TOKEN)
        with pytest.raises(RegistryError) as err:
            RegistryClient(registry, tmp_path / "cache").versions("@acme/weather")
    assert seen_registry and all(auth == f"Bearer {ACME_TOKEN}" for _, auth in seen_registry)
    assert seen_elsewhere and all(auth is None for _, auth in seen_elsewhere)
    assert ACME_TOKEN not in str(err.value)


def _mcp_list(private: Private, tmp_path: Path, plugin: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`extism-mcp-server --registry URL --plugin PLUGIN --registry-token-env ACME_MCP_TOKEN --list --json`,
    with no other token to fall back on (no host variable, an empty login store)."""
    base = {k: v for k, v in os.environ.items() if k not in ("ACME_MCP_TOKEN", "EXTISM_REGISTRY_TOKEN_127_0_0_1")}
    base |= {"EXTISM_PLATFORM_CONFIG": str(tmp_path / "config"), "EXTISM_PLATFORM_CACHE": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "extism_platform.cli.mcp_server", "--registry", private.url, "--plugin", plugin]
        + ["--registry-token-env", "ACME_MCP_TOKEN", "--list", "--json"],
        env={**base, **env},
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_mcp_server_names_an_unset_registry_token_variable(private: Private, tmp_path: Path) -> None:
    """`--registry-token-env VAR` with VAR unset: the private scope's 401 is one line whose hint names
    the flag and VAR (the registry client's own token lookup, as for extism.yaml `token_env`)."""
    r = _mcp_list(private, tmp_path, "@acme/weather")
    assert r.returncode != 0
    assert "HTTP 401: this registry needs a token" in r.stderr, r.stderr
    assert "$ACME_MCP_TOKEN (--registry-token-env ACME_MCP_TOKEN) is not set" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_mcp_server_registry_token_variable_unset_still_reads_a_public_scope(private: Private, tmp_path: Path) -> None:
    """An unset VAR is no error in itself: a public scope of the same registry serves without a token."""
    r = _mcp_list(private, tmp_path, "greeter")
    assert r.returncode == 0, r.stderr
    assert [p["name"] for p in json.loads(r.stdout)["plugins"]] == ["greeter"], r.stdout


def test_mcp_server_reads_the_registry_token_from_the_variable(private: Private, tmp_path: Path) -> None:
    r = _mcp_list(private, tmp_path, "@acme/weather", ACME_MCP_TOKEN=ACME_TOKEN)
    assert r.returncode == 0, r.stderr
    assert [p["name"] for p in json.loads(r.stdout)["plugins"]] == ["@acme/weather"], r.stdout
    assert ACME_TOKEN not in r.stdout + r.stderr


def test_discovery_names_an_unset_registry_token_variable(
    private: Private, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery mode (`--registry` alone) fetches with the same lookup: enabling a private plugin
    without the token fails naming the flag."""
    from extism_platform.mcp.discovery import discovery_from_args
    from plugin_format.errors import LoadError

    monkeypatch.setenv("EXTISM_PLATFORM_CONFIG", str(tmp_path / "config"))
    monkeypatch.setenv("EXTISM_PLATFORM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EXTISM_REGISTRY_TOKEN_127_0_0_1", raising=False)
    monkeypatch.delenv("ACME_MCP_TOKEN", raising=False)
    found = discovery_from_args(
        private.url,
        allow=["*"],
        pinned={},
        token_env="ACME_MCP_TOKEN",
        token_env_label="--registry-token-env ACME_MCP_TOKEN",
        keys=[],
        allow_unsigned=False,
    )
    with pytest.raises(LoadError, match=r"401.*\$ACME_MCP_TOKEN \(--registry-token-env ACME_MCP_TOKEN\) is not set"):
        found.fetch("@acme/weather", "1.2.0")
