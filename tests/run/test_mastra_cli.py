"""`extism-mastra verify` fails (exit 1, one line) on a server that does not start or serves no tools,
before any Node is needed; `extism-mastra config` warns about such a server line but still prints it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

MASTRA = ["-m", "extism_platform.cli.mastra"]


def test_verify_fails_when_the_server_does_not_start(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dist"
    r = run_cli(*MASTRA, "verify", "--", "--dist", str(missing), "--no-audit", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("extism-mastra: error: extism-mcp-server does not start: ")
    assert f"--dist {missing}: not a directory (build plugins with `extism-plugin build`)" in r.stderr  # whole


def test_verify_fails_when_the_server_lists_no_tools(built: dict, tmp_path: Path) -> None:
    r = run_cli(*MASTRA, "verify", "--", "--dist", str(built["dist"]), "--only", "nothing*", "--no-audit", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "serves no tools" in r.stderr


def test_config_warns_about_a_server_that_serves_nothing(built: dict, tmp_path: Path) -> None:
    r = run_cli(*MASTRA, "config", "--json", "--", "--dist", str(built["dist"]), "--only", "nothing*", cwd=tmp_path)
    assert r.returncode == 0 and '"command"' in r.stdout
    assert "warning: this server line serves nothing yet" in r.stderr and "serves no tools" in r.stderr
    r = run_cli(*MASTRA, "config", "--json", "--", "--dist", str(tmp_path / "nope"), cwd=tmp_path)
    assert r.returncode == 0 and "does not start" in r.stderr and "not a directory" in r.stderr
    r = run_cli(*MASTRA, "config", "--json", "--", "--dist", str(built["dist"]), "--no-audit", cwd=tmp_path)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
