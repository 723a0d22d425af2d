"""Error types of the build side. Each message is one a user can act on."""

from __future__ import annotations

import sys
from collections.abc import Callable


class ExtismPlatformError(Exception):
    """Base of every error the CLIs turn into one line and a non-zero exit code."""


class ToolchainError(ExtismPlatformError):
    """A compiler is missing, cannot be installed, or cannot run."""


class BuildError(ExtismPlatformError):
    """The compiler ran and rejected the project, or produced an unusable module."""


def run_command(prog: str, call: Callable[[], int | None], *, one_line: bool = False) -> int:
    """Run a CLI's command and turn the errors users can act on into `prog: error: …` on stderr
    and an exit code (1; 130 on Ctrl-C) instead of a traceback. Every console script uses this.

    `one_line` folds a multi-line message (e.g. several plugin.yaml problems) into one line."""
    try:
        return int(call() or 0)
    except ExtismPlatformError as exc:
        message = " ".join(str(exc).split()) if one_line else str(exc)
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file that cannot be read or written, a port that is taken
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
