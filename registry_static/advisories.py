"""Security advisories: which versions of a plugin are affected, how badly, and which version fixes it.

Where they live and who signs them: one file per scope, `index/<scope>/_advisories.json`, a TUF target
of the scope's delegated role, exactly like the scope's index files. So

- the key that signs an advisory is the scope role's key (`scope-<name>.pem`, an online key of the
  registry, the one that already signs publishes, yanks and deprecations of that scope). Whoever may
  yank `@acme/x` may warn about it, nobody else: the delegation is terminating and limited to
  `index/acme/*`, so another scope's key cannot issue (or withdraw) an advisory for `@acme/x`, and no
  offline key (root, targets) is needed to publish one quickly;
- a CDN or mirror can neither forge one (the file's sha256 and length are in the signed role) nor hide
  one: deleting the file is a 404 on a target the signed role lists, serving the previous role is
  refused by the snapshot (which names the role's version), an old snapshot by the timestamp, and an
  old timestamp by a client that saw a newer one (or by its expiry, for a fresh client).

Withdrawn advisories stay in the file (marked `withdrawn`) so that the history is public; clients
ignore them.

```json
{"schema": "extism-platform/advisories@1", "scope": "acme", "advisories": [
  {"id": "ACME-2026-0001", "package": "@acme/weather", "affected": "<1.2.1", "severity": "high",
   "summary": "leaks the API key in errors", "fixed": "1.2.1", "url": null,
   "published": "2026-12-02T05:00:00Z", "withdrawn": null}]}
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from plugin_format.errors import RegistryError, SemverError, TrustError
from plugin_format.semver import Range, Version
from registry_static.layout import ADVISORIES_SCHEMA, UNSCOPED, compact_json, read_schema_doc

SEVERITIES = ("low", "moderate", "high", "critical")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")


def _in_range(rng: Range, v: Version) -> bool:
    return any(all(c.test(v) for c in comps) for comps in rng.alternatives)


@dataclass(frozen=True)
class Advisory:
    """One advisory about one package."""

    id: str
    package: str
    affected: str  # a semver range
    severity: str
    summary: str
    published: str
    fixed: str | None = None
    url: str | None = None
    withdrawn: str | None = None

    def affects(self, version: str) -> bool:
        """Whether `version` is in `affected`, pre-releases included (as npm audit does): a range that
        resolution reads as "no pre-releases" must not let `1.3.0-rc.1` escape `<1.3.0`."""
        return self.withdrawn is None and _in_range(Range.parse(self.affected), Version.parse(version))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "package": self.package,
            "affected": self.affected,
            "severity": self.severity,
            "summary": self.summary,
            "fixed": self.fixed,
            "url": self.url,
            "published": self.published,
            "withdrawn": self.withdrawn,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Advisory:
        if not isinstance(d, dict):
            raise TrustError(f"{where}: expected an object")
        for key in ("id", "package", "affected", "severity", "summary", "published"):
            if not isinstance(d.get(key), str):
                raise TrustError(f"{where}.{key}: expected a string")
        for key in ("fixed", "url", "withdrawn"):
            if d.get(key) is not None and not isinstance(d[key], str):
                raise TrustError(f"{where}.{key}: expected a string or null")
        if d["severity"] not in SEVERITIES:
            raise TrustError(f"{where}.severity: {d['severity']!r} is not one of {', '.join(SEVERITIES)}")
        try:
            Range.parse(d["affected"])
            if d.get("fixed"):
                Version.parse(d["fixed"])
        except SemverError as exc:
            raise TrustError(f"{where}: {exc}") from None
        return cls(
            d["id"], d["package"], d["affected"], d["severity"], d["summary"], d["published"],
            d.get("fixed"), d.get("url"), d.get("withdrawn"),
        )  # fmt: skip


def check_advisory(adv: Advisory) -> Advisory:
    """Refuse an advisory that would mislead: a bad id, severity or range, a fix that is itself affected."""
    if not _ID.match(adv.id):
        raise RegistryError(f"--id {adv.id!r}: letters, digits and . _ : - only (at most 64), e.g. ACME-2026-0001")
    if adv.severity not in SEVERITIES:
        raise RegistryError(f"--severity {adv.severity!r}: one of {', '.join(SEVERITIES)}")
    if not adv.summary.strip():
        raise RegistryError("--summary: say in one line what is wrong (it is shown by install, update and audit)")
    try:
        rng = Range.parse(adv.affected)
        fixed = Version.parse(adv.fixed) if adv.fixed else None
    except SemverError as exc:
        raise RegistryError(str(exc)) from None
    if fixed is not None and _in_range(rng, fixed):
        raise RegistryError(f"--fixed {adv.fixed}: that version is itself in --affected {adv.affected!r}")
    return adv


@dataclass
class AdvisoryFile:
    """Every advisory of one scope, in the order they were published."""

    scope: str
    advisories: list[Advisory] = field(default_factory=list)

    def for_package(self, name: str, *, withdrawn: bool = False) -> list[Advisory]:
        return [a for a in self.advisories if a.package == name and (withdrawn or a.withdrawn is None)]

    def get(self, advisory_id: str) -> Advisory | None:
        return next((a for a in self.advisories if a.id == advisory_id), None)

    def next_id(self, year: int) -> str:
        prefix = f"{'EXTISM' if self.scope == UNSCOPED else self.scope.upper()}-{year}-"
        n = sum(1 for a in self.advisories if a.id.startswith(prefix)) + 1
        return f"{prefix}{n:04d}"

    def add(self, adv: Advisory) -> None:
        if self.get(adv.id) is not None:
            raise RegistryError(f"advisory {adv.id} already exists (ids are permanent: choose another --id)")
        self.advisories.append(adv)

    def withdraw(self, advisory_id: str, when: str) -> Advisory:
        adv = self.get(advisory_id)
        if adv is None:
            known = ", ".join(a.id for a in self.advisories) or "none"
            raise RegistryError(f"no advisory {advisory_id!r} in this scope (advisories: {known})")
        if adv.withdrawn:
            raise RegistryError(f"advisory {advisory_id} was already withdrawn ({adv.withdrawn})")
        new = replace(adv, withdrawn=when)
        self.advisories[self.advisories.index(adv)] = new
        return new

    def to_bytes(self) -> bytes:
        return compact_json(
            {"schema": ADVISORIES_SCHEMA, "scope": self.scope, "advisories": [a.to_dict() for a in self.advisories]}
        )

    @classmethod
    def from_bytes(cls, data: bytes, where: str, expect_scope: str | None = None) -> AdvisoryFile:
        doc = read_schema_doc(data, where, ADVISORIES_SCHEMA, "an advisories file")
        if expect_scope is not None and doc.get("scope") != expect_scope:
            raise TrustError(f"{where}: describes scope {doc.get('scope')!r}, not {expect_scope!r}")
        items = doc.get("advisories")
        if not isinstance(items, list):
            raise TrustError(f"{where}.advisories: expected a list")
        return cls(
            str(doc.get("scope")), [Advisory.from_dict(a, f"{where}.advisories[{i}]") for i, a in enumerate(items)]
        )


def fix_command(name: str, adv: Advisory, requirements: Iterable[tuple[str, str]]) -> str:
    """The command that moves a project off an affected version. `requirements` are (who, range) pairs
    that constrain `name` (extism.yaml's `plugins:` as who="extism.yaml", and each locked plugin's
    dependency on it)."""
    if adv.fixed is None:
        return f"no fixed version yet: `extism-plugin remove {name}` (or wait for a fix)"
    fixed = Version.parse(adv.fixed)
    blocking = []
    for who, spec in requirements:
        try:
            ok = Range.parse(spec).matches(fixed)
        except SemverError:
            ok = False
        if not ok:
            blocking.append((who, spec))
    if not blocking:
        return f"extism-plugin update {name}"
    if all(who == "extism.yaml" for who, _ in blocking):
        return f"extism-plugin add {name}@^{adv.fixed}"
    needers = " ".join(sorted({who for who, _ in blocking if who != "extism.yaml"}))
    return f"extism-plugin update {needers} (they require {name} {', '.join(s for _, s in blocking)})"


def warning_text(name: str, version: str, adv: Advisory, command: str) -> str:
    """The one-line warning install, update and audit print for an affected locked version."""
    fix = f"fixed in {adv.fixed}: {command}" if adv.fixed else command
    url = f" ({adv.url})" if adv.url else ""
    return f"{name} {version} is affected by advisory {adv.id} ({adv.severity}): {adv.summary}{url}; {fix}"
