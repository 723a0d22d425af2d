"""Error types of the run side. Every message names what is wrong and what to do about it."""

from __future__ import annotations

from hatch_extism.errors import ExtismPlatformError

__all__ = [
    "ExtismPlatformError",
    "RunError",
    "GrantError",
    "LoadError",
    "PermissionDeniedError",
    "PluginCallError",
]


class RunError(ExtismPlatformError):
    """Base of the run side's errors."""


class GrantError(RunError):
    """extism.yaml's `grants:` or a `--grant` option is malformed."""


class LoadError(RunError):
    """A plugin cannot be loaded: missing files, bad signature, unusable module."""


class PermissionDeniedError(RunError):
    """A plugin used a capability it was not granted (or did not declare)."""

    def __init__(self, plugin: str, capability: str, value: str, how: str) -> None:
        self.plugin, self.capability, self.value, self.how = plugin, capability, value, how
        super().__init__(f"plugin {plugin} is not allowed {capability} {value}: {how}")


class PluginCallError(RunError):
    """A call failed: the plugin's own error, a timeout, a trap, a denial, or bad input.

    `kind` is one of `error`, `timeout`, `trap`, `denied`, `invalid_input`, `invalid_output`,
    `unavailable`."""

    def __init__(self, message: str, kind: str = "error") -> None:
        self.kind = kind
        super().__init__(message)
