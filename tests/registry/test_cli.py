"""The `extism-registry` command line: help with examples everywhere, one-line errors, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry_static.cli import build_parser
from tests.conftest import run_cli

from .conftest import Authors, Reg


def cli(*args: str):  # noqa: ANN201
    return run_cli("-m", "registry_static.cli", *args, timeout=120)


def _subcommands() -> list[list[str]]:
    parser = build_parser()
    out = []
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - walking argparse's tree
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]  # noqa: SLF001
            if nested:
                out += [[name, n] for n in nested[0].choices]
            else:
                out.append([name])
    return out


@pytest.mark.parametrize("command", _subcommands(), ids=" ".join)
def test_every_subcommand_has_help_with_examples(command: list[str]) -> None:
    from contextlib import redirect_stdout
    from io import StringIO

    buf = StringIO()
    with redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, "--help"])
    assert exc.value.code == 0
    assert "examples:" in buf.getvalue() and f"extism-registry {command[0]}" in buf.getvalue()


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    for args in (["publish"], ["frobnicate"], ["keys"], ["deprecate", str(tmp_path), "x", "1.0.0"]):
        p = cli(*args)
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("extism-registry"), p.stderr
        assert "error:" in p.stderr


def test_runtime_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    p = cli("publish", str(tmp_path), "x.wasm")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("extism-registry: error: ") and "not a registry" in p.stderr
    p = cli("verify", str(tmp_path))
    assert p.returncode == 1 and "not a registry" in p.stdout


def test_full_author_flow_through_the_cli(tmp_path: Path, authors: Authors, built: dict) -> None:
    reg = tmp_path / "registry"
    p = cli("init", str(reg), "--json", "--name", "CLI test")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["keys"] == str(tmp_path / "registry.keys") and doc["offline_keys"][0].endswith("root.pem")
    p = cli("keys", "add-scope", str(reg), "@acme", "--author", str(authors.pub("alice")))
    assert p.returncode == 0, p.stderr
    p = cli("publish", str(reg), str(built["@acme/units@0.3.1"].wasm), "--site", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["site"]["plugins"] == 1 and (reg / "index.html").is_file()
    p = cli("verify", str(reg), "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["ok"] is True, p.stdout
    p = cli("keys", "list", str(reg))
    assert p.returncode == 0 and "scope-acme" in p.stdout and "alice" in p.stdout


def test_verify_reports_every_problem(reg: Reg) -> None:
    idx = reg.repo().index("@acme/weather")
    for v in idx.versions[:2]:
        (reg.dir / "blobs" / "sha256" / v.sig.sha256).unlink(missing_ok=True)
    p = cli("verify", str(reg.dir))
    assert p.returncode == 1 and p.stdout.startswith("FAILED") and p.stdout.count("problem:") >= 1
