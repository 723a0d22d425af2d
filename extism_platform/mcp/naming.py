"""Tool names: one tool per export that has an input schema, named `<plugin>-<export>`.

The plugin name has its scope folded in by `_` (`@acme/weather` → `acme_weather`), then `-`, then
the export. Plugin names hold no `_` and export names hold no `-`, so two different (plugin,
export) pairs can never get the same tool name, and the built-in tools (no `-` in their names)
never collide with a plugin's.
"""

from __future__ import annotations

import re

from plugin_format import names
from plugin_format.errors import RunError

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}\Z")


def tool_name(plugin: str, export: str) -> str:
    """`@acme/weather` + `get` → `acme_weather-get`: the scope joined with `_`, which no plugin
    name contains, so two plugins can never make the same tool name."""
    scope, bare = names.split(plugin)
    name = f"{scope}_{bare}-{export}" if scope else f"{bare}-{export}"
    if not TOOL_NAME.match(name):  # plugin.yaml's patterns make this unreachable; say so if not
        raise RunError(f"plugin {plugin}: export {export!r} gives the tool name {name!r}, which MCP does not allow")
    return name
