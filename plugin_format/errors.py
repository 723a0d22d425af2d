"""Every error the platform raises on purpose, in one module, for both ends (build, registry, run).

Each message names the file, field or plugin at fault and what to do; the console scripts turn
them into one line on stderr and a non-zero exit code with `run_command` (no tracebacks).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any


class ExtismPlatformError(Exception):
    """Base of every error the CLIs turn into one line and a non-zero exit code."""


# ---- the plugin format (core) -----------------------------------------------------------------


class ManifestError(ExtismPlatformError):
    """plugin.yaml (or a resolved plugin.json) is missing, unreadable or invalid."""


class SemverError(ExtismPlatformError, ValueError):
    """A version or a range that cannot be parsed."""


class SigningError(ExtismPlatformError):
    """A key cannot be read, or a signature does not verify."""


class VerifyError(ExtismPlatformError):
    """An artifact does not match its signature, its manifest, or the given key."""


class ModuleError(ExtismPlatformError):
    """A wasm module imports or exports what its manifest does not allow."""


# ---- build ------------------------------------------------------------------------------------


class ToolchainError(ExtismPlatformError):
    """A compiler is missing, cannot be installed, or cannot run."""


class BuildError(ExtismPlatformError):
    """The compiler ran and rejected the project, or produced an unusable module."""


class InitError(ExtismPlatformError):
    """`extism-plugin init` cannot create the project (bad name, unknown language, existing files)."""


# ---- distribute -------------------------------------------------------------------------------


class RegistryError(ExtismPlatformError):
    """Base of every registry error."""


class RegistryLayoutError(RegistryError):
    """A registry directory or key directory is missing, incomplete or not a registry."""


class PublishError(RegistryError):
    """An artifact cannot be published (unsigned, wrong author, existing version, …)."""


class ScanError(RegistryError):
    """A verified module does not match its plugin.json, or breaks a registry's limits (`plugin_format.scan`).
    Its message has one line per problem, kept even by a CLI that folds messages into one line."""

    multiline = True


class PublishScanError(ScanError, PublishError):
    """A publish refused by the registry's scan."""


class NotFoundError(RegistryError):
    """The registry has no such plugin or version."""


class TrustError(RegistryError):
    """TUF metadata or an index file failed verification: the registry (or a mirror) cannot be trusted."""


class IntegrityError(RegistryError):
    """A downloaded blob does not match the sha256/size recorded in the signed index file."""


class SignatureError(RegistryError):
    """The author's DSSE signature of an artifact is missing or does not verify."""


class FetchError(RegistryError):
    """A file could not be downloaded (network, HTTP status, permissions)."""


class OfflineError(NotFoundError):
    """`--offline`: something the command needs is not in the cache; the message names it."""


class ProjectError(RegistryError):
    """extism.yaml is missing or malformed; the message names the file and the field."""


class LockError(RegistryError):
    """extism.lock is malformed, or (with --frozen) does not satisfy extism.yaml."""


class PermissionChangeError(RegistryError):
    """An install/update whose new version asks for more than the locked one, not granted or accepted."""


class ResolveError(RegistryError):
    """No set of versions satisfies every requirement; `lines` are the explanation, one step each."""

    def __init__(self, summary: str, lines: Sequence[str] = ()) -> None:
        self.summary = summary
        self.lines = list(lines)
        super().__init__("\n".join([summary, *("  " + ln for ln in self.lines)]))


# ---- run --------------------------------------------------------------------------------------


class RunError(ExtismPlatformError):
    """Base of the run side's errors."""


class GrantError(RunError):
    """extism.yaml's `grants:` or a `--grant` option is malformed."""


class LoadError(RunError):
    """A plugin cannot be loaded: missing files, bad signature, unusable module."""


class AuditError(RunError):
    """The audit log cannot be written or read."""


class PermissionDeniedError(RunError):
    """A plugin used a capability it was not granted (or did not declare)."""

    def __init__(self, plugin: str, capability: str, value: str, how: str) -> None:
        self.plugin, self.capability, self.value, self.how = plugin, capability, value, how
        super().__init__(f"plugin {plugin} is not allowed {capability} {value}: {how}")


class PluginCallError(RunError):
    """A call failed: the plugin's own error, a timeout, a trap, a denial, or bad input.

    `kind` is one of `error`, `timeout`, `trap`, `denied`, `invalid_input`, `invalid_output`,
    `unavailable`, `cancelled` (the client cancelled the call)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        self.kind = kind
        super().__init__(message)


def __getattr__(name: str) -> Any:
    """`YamlLimitError` is made on first use: it is a `yaml.YAMLError`, and a process that reads no
    YAML (the MCP server serving built plugins) should not import PyYAML to define it."""
    if name != "YamlLimitError":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import yaml  # noqa: PLC0415

    class YamlLimitError(ExtismPlatformError, yaml.YAMLError):
        """A YAML file is past one of the loader's limits (size, depth, expanded nodes)."""

    YamlLimitError.__module__, YamlLimitError.__qualname__ = __name__, name
    globals()[name] = YamlLimitError
    return YamlLimitError


# ---- the CLI runner ---------------------------------------------------------------------------


def run_command(prog: str, call: Callable[[], int | None], *, one_line: bool = False) -> int:
    """Run a CLI's command and turn the errors users can act on into `prog: error: …` on stderr
    and an exit code (1; 130 on Ctrl-C) instead of a traceback. Every console script uses this.

    `one_line` folds a multi-line message (e.g. several plugin.yaml problems) into one line, except
    an error whose `multiline` says its lines are the point (a scan's problems, one per line)."""
    try:
        return int(call() or 0)
    except ExtismPlatformError as exc:
        fold = one_line and not getattr(exc, "multiline", False)
        message = " ".join(str(exc).split()) if fold else str(exc)
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file that cannot be read or written, a port that is taken
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{prog}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
