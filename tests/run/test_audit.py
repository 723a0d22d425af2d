"""The audit log: hash chain, head checkpoint, and what `audit-log verify` detects."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

import pytest

from extism_platform.audit import AuditLog, read_records, register_audit_commands, verify_log


def _log(path: Path, n: int = 5, key: bytes | None = None) -> None:
    log = AuditLog(path, key=key)
    for i in range(n):
        log.append("call", plugin="p", export="e", i=i)
    log.close()


def test_intact_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path, key=b"k" * 32)
    report = verify_log(path, b"k" * 32)
    assert report.ok and report.lines == 5 and not report.warnings
    assert verify_log(path).problems == ["audit.jsonl.head is keyed: give the audit key (--key) to check it"]
    records = read_records(path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]


def test_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path, 3)
    _log(path, 3)
    assert verify_log(path).ok and [r["seq"] for r in read_records(path)] == list(range(1, 7))


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_edited_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path)
    lines = _lines(path)
    lines[2] = lines[2].replace(b'"i":2', b'"i":7')
    path.write_bytes(b"".join(lines))
    report = verify_log(path)
    assert not report.ok and any("line 4: does not chain to line 3" in p for p in report.problems)


def test_removed_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path)
    lines = _lines(path)
    del lines[1]
    path.write_bytes(b"".join(lines))
    report = verify_log(path)
    assert not report.ok and any("1 line(s) removed" in p for p in report.problems)


def test_truncated_end_and_edited_last_line_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path)
    lines = _lines(path)
    path.write_bytes(b"".join(lines[:-1]))
    assert any("removed from the end" in p for p in verify_log(path).problems)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"i":4', b'"i":9'))
    assert any("edited" in p for p in verify_log(path).problems)


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    logs = [AuditLog(path), AuditLog(path)]  # two writers, as two server processes would be

    def write(log: AuditLog) -> None:
        for i in range(100):
            log.append("call", i=i)

    threads = [threading.Thread(target=write, args=(log,)) for log in logs for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert verify_log(path).ok and verify_log(path).lines == 400


def test_cli_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="extism-plugin")
    register_audit_commands(parser.add_subparsers(dest="command"))
    path = tmp_path / "audit.jsonl"
    _log(path)
    args = parser.parse_args(["audit-log", "verify", str(path), "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    path.write_bytes(b"".join(_lines(path)[1:]))
    args = parser.parse_args(["audit-log", "verify", str(path)])
    assert args.func(args) == 1
    assert "TAMPERED" in capsys.readouterr().out
    args = parser.parse_args(["audit-log", "show", str(path), "--last", "2"])
    assert args.func(args) == 0 and len(capsys.readouterr().out.splitlines()) == 2
