"""What every console script shares besides `errors.run_command`: the `--version` flag."""

from __future__ import annotations

import argparse
from importlib import metadata


def platform_version() -> str:
    """The installed extism-platform's version (`0+unknown` when run from a bare source tree)."""
    try:
        return metadata.version("extism-platform")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def add_version_flag(parser: argparse.ArgumentParser) -> None:
    """`--version` prints `<prog> <platform version>` and exits 0."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {platform_version()}")
