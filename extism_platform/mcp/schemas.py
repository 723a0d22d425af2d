"""JSON Schema validators for tool arguments and results, with regexes in linear time.

jsonschema evaluates `pattern` and `patternProperties` with Python's backtracking `re`: a schema
pattern like `^(a+)+$` takes seconds per character of a hostile argument, on the event loop, for
every session (issue 15, item 7). Here both keywords run on RE2 (PyPI `google-re2`), whose time is
linear in the input. A pattern RE2 cannot run (a backreference, a lookaround) is refused when the
tool table is built, naming the plugin and the pattern, instead of being run with backtracking.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import re2
from jsonschema.exceptions import ValidationError

from plugin_format.errors import RunError


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


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties}
)


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


def validator_for(schema: dict[str, Any], where: str) -> Any:
    """A validator for `schema`; `RunError` naming `where` when one of its regexes needs
    backtracking (RE2 refuses it)."""
    for pattern in _patterns(schema):
        try:
            _compiled(pattern)
        except re2.error as exc:
            raise RunError(
                f"{where}: pattern {pattern!r} needs a backtracking regex engine ({exc}); "
                "rewrite it without backreferences or lookarounds"
            ) from None
    return Validator(schema)
