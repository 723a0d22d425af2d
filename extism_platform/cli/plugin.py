"""`extism-plugin` — the plugin author's command line."""

from __future__ import annotations

import argparse
import json
import sys

from hatch_extism.errors import ExtismPlatformError
from hatch_extism.toolchains import DRIVERS, get_toolchain

EXAMPLES = """examples:
  extism-plugin toolchains                 # which compilers are here, and how to get the others
  extism-plugin toolchains --install c zig # install what those languages need (from package registries)
  extism-plugin toolchains --json
"""


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_toolchains(args: argparse.Namespace) -> int:
    langs = args.languages or list(DRIVERS)
    if args.install:
        for lang in langs:
            get_toolchain(lang).ensure_installed(_progress)
    rows = []
    for lang in langs:
        try:
            rows.append(get_toolchain(lang).detect().to_dict())
        except ExtismPlatformError as exc:
            rows.append({"language": lang, "found": False, "version": None, "location": None,
                         "install_hint": str(exc)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["language"]) for r in rows)
    for r in rows:
        if r["found"]:
            print(f"{r['language']:<{width}}  found    {r['version']}  ({r['location']})")
        else:
            print(f"{r['language']:<{width}}  missing  install: {r['install_hint']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extism-plugin",
        description="Write, build and test Extism plugins in many languages.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tc = sub.add_parser(
        "toolchains",
        help="list each language's compiler: found / version / how to install",
        description="List each language's toolchain: found, version, location, or how to install it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tc.add_argument("languages", nargs="*", help=f"languages to show (default: all of {', '.join(DRIVERS)})")
    tc.add_argument("--install", action="store_true", help="install missing toolchains first")
    tc.add_argument("--json", action="store_true", help="machine-readable output")
    tc.set_defaults(func=cmd_toolchains)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ExtismPlatformError as exc:
        print(f"extism-plugin: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
