"""JSON Schemas and annotations of plugin tools: each schema checked with the dialect its `$schema`
declares (2020-12 when it declares none, as MCP says), a schema that cannot be used reported at load
naming the plugin and export, and tool annotations derived from what the plugin may do."""

from __future__ import annotations

import logging
from typing import Any

import jsonschema
import mcp_types as types
from jsonschema.validators import validator_for

from plugin_format.manifest import Export, Permissions

log = logging.getLogger("extism_platform.mcp")

KV_WRITES = {"kv", "kv_set", "kv_delete"}  # the kv group, or its writing functions by name


def validator(schema: dict[str, Any]) -> Any:
    """A validator of the dialect `schema["$schema"]` names (draft-04 … 2020-12), default 2020-12.
    Raises `jsonschema.SchemaError` for a schema that is not valid in its dialect."""
    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def output_validator(plugin: str, export: Export) -> Any | None:
    """The output schema's validator, or None (with a warning naming plugin and export) when MCP
    cannot use it: an outputSchema must be an object schema, valid in its dialect."""
    schema = export.output_schema
    if schema is None:
        return None
    if schema.get("type") != "object":
        log.warning(
            "%s: export %s: output_schema has no top-level `type: object` (MCP's outputSchema must describe "
            "an object); the tool is served without it and its output is not validated",
            plugin,
            export.name,
        )
        return None
    try:
        return validator(schema)
    except jsonschema.SchemaError as exc:
        log.warning(
            "%s: export %s: output_schema is not a valid JSON Schema (%s); served without it",
            plugin,
            export.name,
            exc.message,
        )
        return None


def input_validator(plugin: str, export: Export) -> Any | None:
    """The input schema's validator, or None (with a warning) when it is not valid in its dialect."""
    assert export.input_schema is not None
    try:
        return validator(export.input_schema)
    except jsonschema.SchemaError as exc:
        log.warning(
            "%s: export %s: input_schema is not a valid JSON Schema (%s); not offered as a tool",
            plugin,
            export.name,
            exc.message,
        )
        return None


def tool_annotations(permissions: Permissions, export: Export) -> types.ToolAnnotations:
    """From the permissions the plugin asks for: no hosts → `openWorldHint: false`; no kv writes (and
    no writable path) → `readOnlyHint: true`. plugin.yaml's `annotations:` override each hint."""
    writes = bool(KV_WRITES & set(permissions.host_functions)) or any(
        str(mode).endswith("rw") for mode in permissions.paths.values()
    )
    derived: dict[str, Any] = {"openWorldHint": bool(permissions.hosts), "readOnlyHint": not writes}
    if not writes:
        derived["destructiveHint"] = False
    derived.update(export.annotations or {})
    return types.ToolAnnotations.model_validate(derived)
