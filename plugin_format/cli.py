"""What every console script shares besides `errors.run_command`: the `--version` flag."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def platform_version() -> str:
    """The installed extism-platform's version (`0+unknown` when run from a bare source tree)."""
    from importlib import metadata  # noqa: PLC0415 - ~15 ms; only `--version` and the server's name need it

    try:
        return metadata.version("extism-platform")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """`--version` prints `<prog> <platform version>` and exits 0 (the version is looked up then, not
    at every start)."""
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        kwargs.pop("default", None)
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"{parser.prog} {platform_version()}", file=sys.stdout)
        parser.exit()
