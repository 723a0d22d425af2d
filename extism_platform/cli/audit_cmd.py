"""`extism-plugin audit`: the security audit of a project's locked plugins (advisories, yanked and
deprecated versions, signature status). Exit 1 when something is affected.

The run side's call log has its own commands, `extism-plugin audit-log verify|show`
(`extism_platform.audit`); `audit` is this check, as in npm and cargo.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLES = """examples:
  extism-plugin audit                              # every plugin extism.lock pins; exit 1 if any is affected
  extism-plugin audit --project deploy/extism.yaml --json
  extism-plugin audit || extism-plugin update @acme/weather   # then follow the command it names
"""


def cmd_audit(args: argparse.Namespace) -> int:
    from registry_static.lock_audit import audit_project, report_lines
    from registry_static.project import load_project

    report = audit_project(load_project(Path(args.project)))
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else "\n".join(report_lines(report)))
    return 0 if report.ok else 1


def register_audit(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `audit` to `extism-plugin`'s subcommands."""
    text = "check the locked plugins: advisories, yanked/deprecated versions, signatures (exit 1 if affected)"
    p = subparsers.add_parser(
        "audit",
        help=text,
        description=text,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--project", default="extism.yaml", metavar="extism.yaml", help="default: ./extism.yaml")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=cmd_audit)
    return p
