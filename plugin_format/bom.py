"""The bill of materials of a built plugin: what its module bundles besides the project's own code.

Each toolchain driver reads it from the resolution its package manager made (package-lock.json,
Cargo.lock, go.mod, the Python modules it packed, Maven's resolution), the PDK included, and the
build records it in plugin.json as `bom`: a list of `{type, name, version}` sorted by
(type, name, version) without duplicates, so two builds of the same sources give byte-identical
plugin.json files. The registry shows it; scanners match it against advisories.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from plugin_format.errors import BuildError

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "plugin.json.schema.json"


@lru_cache(maxsize=1)
def plugin_json_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


#: the kinds of component a bill of materials names (the schema describes each)
TYPES: tuple[str, ...] = tuple(plugin_json_schema()["properties"]["bom"]["items"]["properties"]["type"]["enum"])


def check_plugin_json(doc: Mapping[str, Any]) -> None:
    """`doc` against plugin.json's schema (`BuildError` naming the first problem)."""
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(plugin_json_schema()).iter_errors(doc))
    if err is not None:
        where = ".".join(map(str, err.absolute_path)) or "(top level)"
        raise BuildError(f"plugin.json: {where}: {err.message}")


def entry(kind: str, name: str, version: str) -> dict[str, str]:
    """One component; `kind` is one of `TYPES`."""
    if kind not in TYPES:
        raise BuildError(f"bill of materials: unknown type {kind!r} (one of {', '.join(TYPES)})")
    if not name or not version:
        raise BuildError(f"bill of materials: {kind} component {name!r} has no name or no version")
    return {"type": kind, "name": name, "version": version}


def normalise(entries: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """Validated, de-duplicated and sorted: the form plugin.json records."""
    seen = {(e["type"], e["name"], e["version"]) for e in (entry(e["type"], e["name"], e["version"]) for e in entries)}
    return [{"type": t, "name": n, "version": v} for t, n, v in sorted(seen)]
