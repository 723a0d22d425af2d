"""The audit log: one JSON line per plugin call and per capability decision, hash-chained.

Each line carries `seq` (1, 2, …) and `prev`, the sha256 of the previous line's bytes, so an
edited or removed line breaks the chain; `<log>.head` records the last line's seq and hash, so
cutting lines off the end is detected too. `extism-plugin audit-log verify LOG` checks all of it.

A chain alone proves nothing to someone who can rewrite the whole file (edit, re-chain, rewrite the
head). With a key (`AuditLog(path, key=…)`; the server keeps one in `<state dir>/audit.key`, 0600,
or `$EXTISM_AUDIT_KEY`), the head also carries an HMAC-SHA256 of (seq, hash) under that key: any
edit changes the last hash, and a head that matches it cannot be made without the key. A missing
head is a failure, not a warning. A torn last line (a crash mid-write) is cut off on start, kept in
`<log>.torn`, and recorded by a `repair` record, so the server starts instead of refusing to.

Appends are serialised within the process (a lock) and between processes (`flock`), so several
servers may share one log.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin_format.errors import AuditError
from plugin_format.paths import default_audit_log

GENESIS = "0" * 64
HEAD_SUFFIX = ".head"
HEAD_WIDTH = 240
KEY_ENV = "EXTISM_AUDIT_KEY"
TORN_SUFFIX = ".torn"


def _mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"extism-audit-head:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def load_key(path: Path | None = None, *, create: bool = False) -> bytes | None:
    """The audit key: the file `path`, else $EXTISM_AUDIT_KEY (a file), else `<state dir>/audit.key`;
    with `create`, a new random key is written there (0600) when there is none. None when absent."""
    from plugin_format.paths import state_dir  # noqa: PLC0415

    where = path or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else state_dir() / "audit.key")
    try:
        data = where.read_bytes().strip()
    except FileNotFoundError:
        if not create:
            return None
        where.parent.mkdir(parents=True, exist_ok=True)
        data = secrets.token_hex(32).encode()
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_key(where)
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")
    except OSError as exc:
        raise AuditError(f"audit key {where}: {exc.strerror} (set ${KEY_ENV} to a readable key file)") from None
    if len(data) < 32:
        raise AuditError(f"audit key {where}: too short (at least 32 characters; delete it to make a new one)")
    return data


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _last_line(path: Path) -> bytes | None:
    """The file's last non-empty line (read from the end: logs grow large)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        chunk, pos = b"", end
        while pos > 0:
            step = min(8192, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step) + chunk
            stripped = chunk.rstrip(b"\n")
            nl = stripped.rfind(b"\n")
            if nl >= 0:
                return stripped[nl + 1 :]
        stripped = chunk.rstrip(b"\n")
        return stripped or None


class AuditLog:
    """Append-only, hash-chained JSON lines. `AuditLog(None)` records nothing."""

    def __init__(self, path: Path | None, *, fsync: bool = False, key: bytes | None = None) -> None:
        self.path = path
        self.fsync = fsync
        self.key = key
        self._lock = threading.Lock()
        self._seq = 0
        self._prev = GENESIS
        self._size = -1  # file size after our last append; another writer changes it
        self._fd: int | None = None
        self._head_fd: int | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._head_fd = os.open(self.head_path, os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[arg-type]
                self._repair_torn_tail()
            except OSError as exc:
                raise AuditError(f"audit log {path}: {exc.strerror} (choose another with --audit-log)") from None

    def _repair_torn_tail(self) -> None:
        """A last line without its newline, or not a record, is what a crash mid-write leaves:
        cut it off (kept in `<log>.torn`) and record the repair, rather than refuse to start."""
        assert self._fd is not None and self.path is not None
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            data_size = os.fstat(self._fd).st_size
            if not data_size:
                return
            with open(self.path, "rb") as f:
                f.seek(data_size - 1)
                if f.read(1) == b"\n":  # the usual case: whole lines only (no need to read the tail)
                    return
                f.seek(max(0, data_size - (1 << 20)))
                tail = f.read()
            cut = None
            if not tail.endswith(b"\n"):
                nl = tail.rfind(b"\n")
                cut = data_size - len(tail) + nl + 1 if nl >= 0 else (0 if data_size == len(tail) else None)
            if cut is None:
                return
            torn = tail[len(tail) - (data_size - cut) :]
            with open(self.path.with_name(self.path.name + TORN_SUFFIX), "ab") as keep:
                keep.write(torn + b"\n")
            os.truncate(self.path, cut)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._size = -1
        self.append("repair", dropped_bytes=len(torn), dropped_sha256=hashlib.sha256(torn).hexdigest())

    @property
    def head_path(self) -> Path | None:
        return self.path.with_name(self.path.name + HEAD_SUFFIX) if self.path else None

    def _sync_tail(self) -> None:
        assert self._fd is not None and self.path is not None
        size = os.fstat(self._fd).st_size
        if size == self._size:
            return
        last = _last_line(self.path) if size else None
        if last is None:
            self._seq, self._prev = 0, GENESIS
        else:
            try:
                self._seq = int(json.loads(last)["seq"])
            except (ValueError, KeyError, TypeError):
                raise AuditError(
                    f"audit log {self.path}: the last line is not an audit record "
                    "(run `extism-plugin audit-log verify` on it, or start a new log)"
                ) from None
            self._prev = _line_hash(last)
        self._size = size

    def append(self, kind: str, **fields: Any) -> dict[str, Any] | None:
        """Write one record; returns it (with seq, time and prev filled in)."""
        if self._fd is None:
            return None
        with self._lock:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    self._sync_tail()
                    record = {
                        "seq": self._seq + 1,
                        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                        "kind": kind,
                        **fields,
                        "prev": self._prev,
                    }
                    line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str).encode() + b"\n"
                    written = os.write(self._fd, line)
                    if self.fsync:
                        os.fsync(self._fd)
                    self._seq += 1
                    self._prev = _line_hash(line)
                    # We hold the lock, so the file grew by exactly our line (no second fstat).
                    self._size = self._size + written if written == len(line) else os.fstat(self._fd).st_size
                    # The head is a fixed-width checkpoint rewritten in place (one small pwrite).
                    checkpoint: dict[str, Any] = {"seq": self._seq, "hash": self._prev}
                    if self.key is not None:
                        checkpoint["mac"] = _mac(self.key, self._seq, self._prev)
                    head = json.dumps(checkpoint).encode()
                    os.pwrite(self._head_fd, head.ljust(HEAD_WIDTH) + b"\n", 0)  # type: ignore[arg-type]
                finally:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            except OSError as exc:
                raise AuditError(f"audit log {self.path}: {exc.strerror}") from None
        return record

    def close(self) -> None:
        with self._lock:
            for fd in (self._fd, self._head_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._head_fd = None


# ---- verification ------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """The outcome of `verify_log`: `ok` is True when the chain is intact."""

    path: str
    lines: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "lines": self.lines,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def verify_log(path: Path | str, key: bytes | None = None) -> VerifyReport:
    """Check every line's seq and hash link, and the head file: with `key`, the head must carry a
    MAC that matches under it; without, a keyed head is a problem (it cannot be checked) and an
    unkeyed one a warning. Raises `AuditError` only when the file cannot be read; tampering is
    reported in `problems` (line numbers are 1-based)."""
    path = Path(path)
    report = VerifyReport(str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"audit log {path}: {exc.strerror}") from None
    prev, expect_seq = GENESIS, None
    hashes: dict[int, str] = {}
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        report.problems.append(f"line {len(lines)}: incomplete (no newline at the end; a write was cut short?)")
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            seq, link = int(record["seq"]), record["prev"]
        except (ValueError, KeyError, TypeError):
            report.problems.append(f"line {number}: not an audit record (edited?)")
            prev, expect_seq = _line_hash(line), None
            continue
        if number == 1 and seq != 1:
            report.problems.append(f"line 1: seq {seq}, expected 1: {seq - 1} line(s) removed from the start")
        elif expect_seq is not None and seq != expect_seq:
            gap = seq - expect_seq
            what = f"{gap} line(s) removed before it" if gap > 0 else "out of order (lines moved or duplicated)"
            report.problems.append(f"line {number}: seq {seq}, expected {expect_seq}: {what}")
        if link != prev and number > 1:
            report.problems.append(
                f"line {number}: does not chain to line {number - 1} "
                "(that line was edited, or lines between were removed)"
            )
        prev, expect_seq = _line_hash(line), seq + 1
        hashes[seq] = prev
    report.lines = len(lines)
    head_path = path.with_name(path.name + HEAD_SUFFIX)
    try:
        head = json.loads(head_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.problems.append(f"{head_path.name} is missing (deleted?): lines cut off the end would go unnoticed")
        return report
    except (OSError, ValueError):
        report.problems.append(f"{head_path.name}: unreadable")
        return report
    if not isinstance(head, dict):
        report.problems.append(f"{head_path.name}: not a checkpoint")
        return report
    last_seq = (expect_seq - 1) if expect_seq else 0
    head_seq = head.get("seq")
    mac = head.get("mac")
    if isinstance(mac, str):
        if key is None:
            report.problems.append(f"{head_path.name} is keyed: give the audit key (--key) to check it")
        elif not isinstance(head_seq, int) or not hmac.compare_digest(mac, _mac(key, head_seq, str(head.get("hash")))):
            report.problems.append(
                f"{head_path.name}: its MAC does not match under the audit key (the log and head were rewritten)"
            )
    elif key is not None:
        report.problems.append(f"{head_path.name} has no MAC: it was written without the audit key (rewritten?)")
    elif key is None:
        report.warnings.append(f"{head_path.name} is not keyed: a rewritten and re-chained log would verify")
    if isinstance(head_seq, bool) or not isinstance(head_seq, int) or head_seq < 1:
        report.problems.append(f"{head_path.name}: seq {head_seq!r} is not a checkpoint the host writes")
    elif head_seq > last_seq:
        report.problems.append(
            f"the log ends at seq {last_seq} but {head_path.name} records seq {head_seq}: "
            "lines were removed from the end"
        )
    elif head_seq and hashes.get(head_seq) != head.get("hash"):
        report.problems.append(
            f"the line with seq {head_seq} differs from the hash in {head_path.name} (it was edited)"
        )
    elif head_seq < last_seq:
        report.warnings.append(
            f"{last_seq - head_seq} line(s) after the last checkpoint in {head_path.name} "
            "(written by a process that did not update it?)"
        )
    return report


# ---- reading -----------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of the log (for tests and `audit-log show`); unparsable lines are skipped."""
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# ---- command line (registered by `extism-plugin`) ---------------------------------------------

AUDIT_EXAMPLES = """examples:
  extism-plugin audit-log verify                       # the default log ($EXTISM_AUDIT_LOG or the state dir)
  extism-plugin audit-log verify ./audit.jsonl --json
  extism-plugin audit-log show --plugin @acme/weather --last 20
"""


def _head_is_keyed(path: Path) -> bool:
    try:
        head = json.loads(path.with_name(path.name + HEAD_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and "mac" in head


def _cmd_verify(args: argparse.Namespace) -> int:
    path = Path(args.log) if args.log else default_audit_log()
    started = time.perf_counter()
    # An explicit --key must have signed the head; the default key is used for a keyed head only
    # (a log written without a key, e.g. by `extism-plugin test`, still verifies as a chain).
    if args.key:
        key = load_key(Path(args.key))
        if key is None:
            raise AuditError(f"--key {args.key}: not found")
    else:
        key = load_key() if _head_is_keyed(path) else None
    report = verify_log(path, key)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for p in report.problems:
            print(f"{path}: {p}")
        for w in report.warnings:
            print(f"{path}: warning: {w}", file=sys.stderr)
        state = "intact" if report.ok else f"TAMPERED ({len(report.problems)} problem(s))"
        print(f"{path}: {report.lines} line(s), chain {state} ({(time.perf_counter() - started) * 1000:.0f} ms)")
    return 0 if report.ok else 1


def _cmd_show(args: argparse.Namespace) -> int:
    path = Path(args.log) if args.log else default_audit_log()
    try:
        records = read_records(path)
    except OSError as exc:
        raise AuditError(f"audit log {path}: {exc.strerror}") from None
    if args.plugin:
        records = [r for r in records if r.get("plugin") == args.plugin]
    if args.kind:
        records = [r for r in records if r.get("kind") == args.kind]
    records = records[-args.last :] if args.last else records
    for r in records:
        if args.json:
            print(json.dumps(r))
        else:
            extra = r.get("outcome") or r.get("decision") or r.get("message") or ""
            what = r.get("export") or r.get("capability") or ""
            value = r.get("value", "")
            print(
                f"{r.get('seq'):>6} {r.get('time', '')[:23]} {r.get('kind', ''):<10} {r.get('plugin', '-')} "
                f"{what} {value} {extra}".rstrip()
            )
    return 0


def register_audit_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `audit-log verify|show` to a CLI's subparsers (each sets `func(args) -> int`)."""
    fmt = argparse.RawDescriptionHelpFormatter
    audit = subparsers.add_parser(
        "audit-log",
        help="check or read the run side's audit log",
        description="The hash-chained audit log of plugin calls and capability decisions.",
        epilog=AUDIT_EXAMPLES,
        formatter_class=fmt,
    )
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = sub.add_parser(
        "verify",
        help="detect edited, removed or truncated lines (exit 1 if any)",
        description="Check every line's sequence number and hash link, and the .head file.",
        epilog=AUDIT_EXAMPLES,
        formatter_class=fmt,
    )
    verify.add_argument("log", nargs="?", help="the log file (default: $EXTISM_AUDIT_LOG or <state dir>/audit.jsonl)")
    verify.add_argument("--json", action="store_true", help="machine-readable report")
    verify.add_argument(
        "--key",
        metavar="FILE",
        help=f"the audit key the head is signed with (default ${KEY_ENV} or <state dir>/audit.key)",
    )
    verify.set_defaults(func=_cmd_verify)
    show = sub.add_parser(
        "show",
        help="print records, optionally filtered",
        description="Print the log's records, one per line.",
        epilog=AUDIT_EXAMPLES,
        formatter_class=fmt,
    )
    show.add_argument("log", nargs="?", help="the log file (default: $EXTISM_AUDIT_LOG or <state dir>/audit.jsonl)")
    show.add_argument("--plugin", help="only this plugin's records")
    show.add_argument("--kind", choices=["call", "capability", "grant", "log", "load", "unload"], help="only this kind")
    show.add_argument("--last", type=int, default=0, metavar="N", help="only the last N records")
    show.add_argument("--json", action="store_true", help="one JSON record per line")
    show.set_defaults(func=_cmd_show)
    return audit
