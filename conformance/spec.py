"""Load and validate `spec.yaml`: every mistake in the spec is reported with the case and field."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parent / "spec.yaml"

INPUT_KEYS = {"input", "input_hex", "input_json", "input_gen"}
EXPECT_KEYS = {
    "output",
    "output_hex",
    "output_json",
    "output_gen",
    "error",
    "error_startswith",
    "error_contains",
    "error_any",
    "logs",
    "http_requests",
    "max_ms",
}
STEP_KEYS = INPUT_KEYS | {"call", "expect", "new_instance", "repeat"}
MANIFEST_KEYS = {"config", "allowed_hosts", "timeout_ms", "memory_max_pages"}
CASE_KEYS = {"id", "description", "manifest", "steps", "skip"}
LOG_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}


class SpecError(Exception):
    """The spec file itself is wrong."""


@dataclass(frozen=True)
class Step:
    call: str
    input: Any  # one of the INPUT_KEYS forms, kept as (kind, value)
    expect: dict[str, Any]
    new_instance: bool = False
    repeat: int = 1

    def input_bytes(self, placeholders: dict[str, str]) -> bytes:
        kind, value = self.input
        return materialize(kind, value, placeholders)


@dataclass(frozen=True)
class Case:
    id: str
    description: str
    steps: list[Step]
    manifest: dict[str, Any] = field(default_factory=dict)
    skip: dict[str, str] = field(default_factory=dict)  # language -> reason

    @property
    def exports(self) -> set[str]:
        return {s.call for s in self.steps}


@dataclass(frozen=True)
class Spec:
    version: str
    defaults: dict[str, Any]
    cases: list[Case]

    @property
    def exports(self) -> set[str]:
        return set().union(*(c.exports for c in self.cases))


def generate(gen: dict[str, Any]) -> bytes:
    """Deterministic bytes for `input_gen` / `output_gen`: `size`, `seed`, `pattern`, `reversed`."""
    size = gen["size"]
    if gen.get("pattern", "random") == "mod251":
        block = bytes(i % 251 for i in range(251))
        data = (block * (size // 251 + 1))[:size]
    else:
        data = random.Random(gen.get("seed", 0)).randbytes(size)
    return data[::-1] if gen.get("reversed") else data


def fill(text: str, placeholders: dict[str, str]) -> str:
    for key, value in placeholders.items():
        text = text.replace("{" + key + "}", value)
    return text


def fill_deep(value: Any, placeholders: dict[str, str]) -> Any:
    if isinstance(value, str):
        return fill(value, placeholders)
    if isinstance(value, list):
        return [fill_deep(v, placeholders) for v in value]
    if isinstance(value, dict):
        return {fill(k, placeholders): fill_deep(v, placeholders) for k, v in value.items()}
    return value


def materialize(kind: str, value: Any, placeholders: dict[str, str]) -> bytes:
    if kind == "input":
        return fill(value, placeholders).encode()
    if kind == "input_hex":
        return bytes.fromhex(value)
    if kind == "input_json":
        return json.dumps(fill_deep(value, placeholders), ensure_ascii=False).encode()
    return generate(value)


def _check_gen(where: str, gen: Any) -> None:
    if not isinstance(gen, dict) or not isinstance(gen.get("size"), int) or gen["size"] < 0:
        raise SpecError(f"{where}: needs {{size: <non-negative int>, seed?, pattern?: random|mod251}}")
    unknown = set(gen) - {"size", "seed", "pattern", "reversed"}
    if unknown or gen.get("pattern", "random") not in ("random", "mod251"):
        raise SpecError(f"{where}: unknown generator setting {sorted(unknown) or gen.get('pattern')}")


def _parse_step(where: str, raw: Any) -> Step:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a step must be a mapping")
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(STEP_KEYS)})")
    if not isinstance(raw.get("call"), str):
        raise SpecError(f"{where}.call: the export to call is required")
    inputs = [k for k in INPUT_KEYS if k in raw]
    if len(inputs) != 1:
        raise SpecError(f"{where}: exactly one of {sorted(INPUT_KEYS)} is required")
    kind = inputs[0]
    if kind == "input_gen":
        _check_gen(f"{where}.input_gen", raw[kind])
    if kind == "input_hex":
        try:
            bytes.fromhex(raw[kind])
        except (TypeError, ValueError):
            raise SpecError(f"{where}.input_hex: not hexadecimal") from None
    expect = raw.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise SpecError(f"{where}.expect: at least one expectation is required")
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise SpecError(f"{where}.expect: unknown keys {sorted(unknown)} (allowed: {sorted(EXPECT_KEYS)})")
    outputs = {"output", "output_hex", "output_json", "output_gen"} & set(expect)
    errors = {"error", "error_startswith", "error_contains", "error_any"} & set(expect)
    if outputs and errors:
        raise SpecError(f"{where}.expect: expects both an output and an error")
    if not outputs and not errors:
        raise SpecError(f"{where}.expect: expects neither an output nor an error")
    if "output_gen" in expect:
        _check_gen(f"{where}.expect.output_gen", expect["output_gen"])
    for i, entry in enumerate(expect.get("logs", [])):
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] in LOG_LEVELS):
            raise SpecError(f"{where}.expect.logs[{i}]: must be [LEVEL, message], LEVEL in {sorted(LOG_LEVELS)}")
    repeat = raw.get("repeat", 1)
    if not isinstance(repeat, int) or repeat < 1:
        raise SpecError(f"{where}.repeat: must be a positive integer")
    return Step(raw["call"], (kind, raw[kind]), expect, bool(raw.get("new_instance", False)), repeat)


def parse_spec(doc: Any, source: str = "spec.yaml") -> Spec:
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise SpecError(f"{source}: expected a mapping with a `cases` list")
    cases: list[Case] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["cases"]):
        where = f"{source}: cases[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise SpecError(f"{where}: every case needs a string `id`")
        where = f"{source}: case {raw['id']!r}"
        if raw["id"] in seen:
            raise SpecError(f"{where}: duplicate id")
        seen.add(raw["id"])
        unknown = set(raw) - CASE_KEYS
        if unknown:
            raise SpecError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(CASE_KEYS)})")
        manifest = raw.get("manifest") or {}
        unknown = set(manifest) - MANIFEST_KEYS
        if unknown:
            raise SpecError(f"{where}.manifest: unknown keys {sorted(unknown)} (allowed: {sorted(MANIFEST_KEYS)})")
        skip = raw.get("skip") or {}
        if not isinstance(skip, dict) or not all(isinstance(v, str) and v.strip() for v in skip.values()):
            raise SpecError(f"{where}.skip: must map a language to the reason it cannot express the case")
        steps = raw.get("steps")
        if not isinstance(steps, list) or not steps:
            raise SpecError(f"{where}.steps: at least one step is required")
        parsed = [_parse_step(f"{where}.steps[{j}]", s) for j, s in enumerate(steps)]
        cases.append(Case(raw["id"], str(raw.get("description", "")), parsed, manifest, skip))
    return Spec(str(doc.get("spec_version", "0")), dict(doc.get("defaults") or {}), cases)


def load_spec(path: Path = SPEC_PATH) -> Spec:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    return parse_spec(doc, path.name)
