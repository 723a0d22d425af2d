"""JSON Schemas and annotations of plugin tools: each schema checked with the dialect its `$schema`
declares (2020-12 when it declares none, as MCP says), a schema that cannot be used reported at load
naming the plugin and export, and tool annotations derived from what the plugin may do.

Regexes run in linear time: jsonschema evaluates `pattern` and `patternProperties` with Python's
backtracking `re`, so a schema pattern like `^(a+)+$` takes seconds per character of a hostile
argument, on the event loop, for every session. Here both keywords run on RE2 (PyPI
`google-re2`), whose time is linear in the input; a pattern RE2 cannot run (a backreference, a
lookaround) makes the schema unusable, reported at load naming the plugin and the pattern."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

import jsonschema
import mcp_types as types
import re2
from jsonschema.exceptions import ValidationError
from jsonschema.validators import validator_for

from plugin_format.manifest import Export, Permissions

log = logging.getLogger("extism_platform.mcp")

KV_WRITES = {"kv", "kv_set", "kv_delete"}  # the kv group, or its writing functions by name


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance[:200]!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, properties: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in properties.items():
        for key, value in instance.items():
            if _compiled(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


@functools.lru_cache(maxsize=16)
def _linear(cls: Any) -> Any:
    """The dialect's validator class with `pattern` / `patternProperties` on RE2."""
    return jsonschema.validators.extend(cls, {"pattern": _pattern, "patternProperties": _pattern_properties})


def _patterns(schema: Any) -> Iterator[str]:
    """Every `pattern` / `patternProperties` regex in a schema (any depth)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            yield schema["pattern"]
        if isinstance(schema.get("patternProperties"), dict):
            yield from (k for k in schema["patternProperties"] if isinstance(k, str))
        for value in schema.values():
            yield from _patterns(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _patterns(item)


def validator(schema: dict[str, Any]) -> Any:
    """A validator of the dialect `schema["$schema"]` names (draft-04 … 2020-12), default 2020-12,
    with linear-time regexes. Raises `jsonschema.SchemaError` for a schema that is not valid in its
    dialect, or whose regex needs backtracking."""
    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    for pattern in _patterns(schema):
        try:
            _compiled(pattern)
        except re2.error as exc:
            raise jsonschema.SchemaError(
                f"pattern {pattern!r} needs a backtracking regex engine ({exc}); "
                "rewrite it without backreferences or lookarounds"
            ) from None
    return _linear(cls)(schema)


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
