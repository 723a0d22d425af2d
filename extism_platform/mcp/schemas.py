"""JSON Schemas and annotations of plugin tools: each schema checked with the dialect its `$schema`
declares (2020-12 when it declares none, as MCP says), a schema that cannot be used reported at load
naming the plugin and export, and tool annotations derived from what the plugin may do.

Regexes run in linear time: jsonschema evaluates `pattern` and `patternProperties` with Python's
backtracking `re`, so a schema pattern like `^(a+)+$` takes seconds per character of a hostile
argument, on the event loop, for every session. Here both keywords run on RE2 (PyPI
`google-re2`), whose time is linear in the input; a pattern RE2 cannot run (a backreference, a
lookaround) makes the schema unusable, reported at load naming the plugin and the pattern.

Checked at load, built on first use: whether a schema is usable decides the tool list, so it is
known before `tools/list` is answered, while each validator is built by its tool's first call. A
schema once found valid (one without patterns) is remembered in the platform cache
(`<cache>/mcp-schema-checks/<sha256 of the schema and the installed jsonschema>`), so a server whose
plugins did not change starts without importing jsonschema (~0.15 G instructions, 5% of a start).
The validator is still built from the schema, which checks it again: a forged entry can only move
the error from the tool list to the tool's first call (a tool error naming plugin and export)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mcp_types as types

from plugin_format.manifest import Export, Permissions

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

log = logging.getLogger("extism_platform.mcp")

KV_WRITES = {"kv", "kv_set", "kv_delete"}  # the kv group, or its writing functions by name
MEMO_DIR = "mcp-schema-checks"
_MEMO_FORMAT = 1  # bump when what makes a schema usable changes


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    import re2  # noqa: PLC0415 - RE2 (and the C++ runtime it needs) only for schemas that have patterns

    return re2.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError  # noqa: PLC0415

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
    import jsonschema  # noqa: PLC0415

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
    import jsonschema  # noqa: PLC0415
    from jsonschema.validators import validator_for  # noqa: PLC0415

    cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    for pattern in _patterns(schema):
        import re2  # noqa: PLC0415

        try:
            _compiled(pattern)
        except re2.error as exc:
            raise jsonschema.SchemaError(
                f"pattern {pattern!r} needs a backtracking regex engine ({exc}); "
                "rewrite it without backreferences or lookarounds"
            ) from None
    return _linear(cls)(schema)


@functools.cache
def _memo() -> tuple[Path, str] | None:
    """(the memo directory, which jsonschema checks), or None when either is unknown. jsonschema is
    known by its installed files (size and mtime: a reinstall or upgrade starts afresh), which is
    found without importing it or reading every distribution's metadata."""
    from importlib.util import find_spec  # noqa: PLC0415

    from plugin_format.paths import cache_dir  # noqa: PLC0415

    try:
        spec = find_spec("jsonschema")
        st = Path(spec.origin).stat() if spec is not None and spec.origin else None
    except (ImportError, OSError, ValueError):
        return None
    if st is None:
        return None
    return cache_dir() / MEMO_DIR, f"{spec.origin}:{st.st_size}:{st.st_mtime_ns}"


def _memo_path(schema: dict[str, Any]) -> Path | None:
    memo = _memo()
    if memo is None or next(_patterns(schema), None) is not None:
        return None  # RE2's verdict on a pattern is not remembered
    doc = json.dumps([_MEMO_FORMAT, memo[1], schema], sort_keys=True, separators=(",", ":"), default=str)
    return memo[0] / hashlib.sha256(doc.encode()).hexdigest()


def problem(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a usable JSON Schema (see `validator`), or None when it is."""
    remembered = _memo_path(schema)
    if remembered is not None and remembered.is_file():
        return None
    import jsonschema  # noqa: PLC0415

    try:
        validator(schema)
    except jsonschema.SchemaError as exc:
        return str(exc.message)
    if remembered is not None:
        from plugin_format.files import atomic_write  # noqa: PLC0415

        try:
            remembered.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(remembered, b"usable\n", fsync=False)
        except OSError as exc:  # a read-only cache: only the next start is slower
            log.debug("cannot remember a checked schema in %s: %s", remembered.parent, exc)
    return None


def output_usable(plugin: str, export: Export) -> bool:
    """Whether the output schema is served (and the output checked against it); a warning naming
    plugin and export when it is not: an outputSchema must be an object schema, valid in its dialect."""
    schema = export.output_schema
    if schema is None:
        return False
    if schema.get("type") != "object":
        log.warning(
            "%s: export %s: output_schema has no top-level `type: object` (MCP's outputSchema must describe "
            "an object); the tool is served without it and its output is not validated",
            plugin,
            export.name,
        )
        return False
    why = problem(schema)
    if why is not None:
        log.warning(
            "%s: export %s: output_schema is not a valid JSON Schema (%s); served without it", plugin, export.name, why
        )
        return False
    return True


def input_usable(plugin: str, export: Export) -> bool:
    """Whether the input schema is valid in its dialect (else a warning: no tool)."""
    assert export.input_schema is not None
    why = problem(export.input_schema)
    if why is not None:
        log.warning(
            "%s: export %s: input_schema is not a valid JSON Schema (%s); not offered as a tool",
            plugin,
            export.name,
            why,
        )
        return False
    return True


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
