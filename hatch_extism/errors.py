"""Error types of the build side. Each message is one a user can act on."""

from __future__ import annotations


class ExtismPlatformError(Exception):
    """Base of every error the CLIs turn into one line and a non-zero exit code."""


class ToolchainError(ExtismPlatformError):
    """A compiler is missing, cannot be installed, or cannot run."""


class BuildError(ExtismPlatformError):
    """The compiler ran and rejected the project, or produced an unusable module."""
