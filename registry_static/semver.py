"""Semantic versions (semver.org 2.0) and the version ranges used in plugin.yaml and extism.yaml.

Ranges, npm/Cargo flavoured:

| spec             | means                                   |
|------------------|-----------------------------------------|
| `*`, `x`, ``     | any release                             |
| `1.2.3`, `=1.2.3`| exactly 1.2.3                           |
| `1.2`, `1.2.x`   | >=1.2.0, <1.3.0                         |
| `^1.2.3`         | >=1.2.3, <2.0.0 (`^0.3.1` → <0.4.0, `^0.0.3` → <0.0.4) |
| `~1.2.3`, `~1.2` | >=1.2.3, <1.3.0 (`~1` → <2.0.0)         |
| `>=1,<2`         | comparators joined by `,` or spaces are ANDed |
| `^1 \\|\\| ^2`   | alternatives joined by `||` are ORed    |

Pre-releases (`2.0.0-rc.1`) match only a range whose comparators name a pre-release of the same
major.minor.patch (as npm does), so `^1.2` never silently selects `1.3.0-beta`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

from registry_static.errors import RegistryError

_VERSION_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\Z"
)
_PARTIAL_RE = re.compile(
    r"^(?P<op>\^|~|>=|<=|>|<|=)?\s*v?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z"
)


class SemverError(RegistryError, ValueError):
    """A version or a range that cannot be parsed."""


@total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed semantic version; ordering follows semver precedence (build metadata ignored)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `1.2.3`, `1.2.3-rc.1`, `1.2.3+build.5`; raise `SemverError` naming the text otherwise."""
        m = _VERSION_RE.match(str(text))  # no strip: "1.0.0\n" is not a version
        if not m:
            raise SemverError(f"{text!r} is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")
        pre = tuple(m[4].split(".")) if m[4] else ()
        return cls(int(m[1]), int(m[2]), int(m[3]), pre, m[5] or "")

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple:
        # A release sorts after all its pre-releases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.core, 1 if not pre else 0, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            s += "-" + ".".join(self.prerelease)
        if self.build:
            s += "+" + self.build
        return s


@dataclass(frozen=True)
class Comparator:
    op: str  # one of >=, >, <=, <, =
    version: Version

    def test(self, v: Version) -> bool:
        if self.op == "=":
            return v == self.version
        if self.op == ">=":
            return v >= self.version
        if self.op == ">":
            return v > self.version
        if self.op == "<=":
            return v <= self.version
        return v < self.version

    def __str__(self) -> str:
        return f"{'' if self.op == '=' else self.op}{self.version}"


def _lowest_pre(v: Version) -> Version:
    """The lowest version with this core: `<2.0.0` must also exclude `2.0.0-rc.1`."""
    return Version(v.major, v.minor, v.patch, ("0",))


def _expand(token: str, spec: str) -> list[Comparator]:
    m = _PARTIAL_RE.match(token)
    if not m:
        raise SemverError(
            f"range {spec!r}: {token!r} is not a version or comparator (use e.g. ^1.2, ~0.3.1, >=1,<2, 1.2.3 or *)"
        )
    op = m["op"] or ""
    parts = [m["major"], m["minor"], m["patch"]]
    wild = [p is None or p in ("x", "X", "*") for p in parts]
    # Once a part is a wildcard, the following ones are too (1.x.3 means 1.x).
    for i in range(1, 3):
        wild[i] = wild[i] or wild[i - 1]
    nums = [0 if w else int(p) for p, w in zip(parts, wild, strict=True)]
    pre = tuple(m["pre"].split(".")) if m["pre"] else ()
    if pre and any(wild):
        raise SemverError(f"range {spec!r}: a pre-release needs a full version ({token!r})")
    lo = Version(nums[0], nums[1], nums[2], pre)
    if wild[0]:
        return [] if op in ("", "=", ">=", "<=", "^", "~") else [Comparator("<", Version(0, 0, 0, ("0",)))]
    n_fixed = 3 - sum(wild)

    def bump(level: int) -> Version:
        if level == 0:
            return _lowest_pre(Version(nums[0] + 1, 0, 0))
        if level == 1:
            return _lowest_pre(Version(nums[0], nums[1] + 1, 0))
        return _lowest_pre(Version(nums[0], nums[1], nums[2] + 1))

    if op in ("", "="):
        if n_fixed == 3:
            return [Comparator("=", lo)]
        return [Comparator(">=", lo), Comparator("<", bump(n_fixed - 1))]
    if op == "^":
        # The first non-zero fixed part may not change.
        level = next((i for i in range(n_fixed) if nums[i] != 0), n_fixed - 1)
        return [Comparator(">=", lo), Comparator("<", bump(level))]
    if op == "~":
        return [Comparator(">=", lo), Comparator("<", bump(0 if n_fixed == 1 else 1))]
    if op == ">=":
        return [Comparator(">=", lo)]
    if op == "<":
        return [Comparator("<", lo if n_fixed == 3 else _lowest_pre(lo))]
    if op == ">":
        return [Comparator(">", lo) if n_fixed == 3 else Comparator(">=", bump(n_fixed - 1))]
    # "<="
    return [Comparator("<=", lo) if n_fixed == 3 else Comparator("<", bump(n_fixed - 1))]


@dataclass(frozen=True)
class Range:
    """A parsed range: alternatives (OR) of comparator sets (AND)."""

    spec: str
    alternatives: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, spec: str) -> Range:
        """Parse a range spec (see the module docstring); raise `SemverError` naming the bad part."""
        text = str(spec).strip()
        alts = []
        for alt in text.split("||"):
            alt = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alt.strip())
            tokens = [t for t in re.split(r"[,\s]+", alt) if t]
            if not tokens and "||" in text:
                raise SemverError(f"range {spec!r}: empty alternative around '||'")
            comps: list[Comparator] = []
            for tok in tokens:
                comps.extend(_expand(tok, text))
            alts.append(tuple(comps))
        return cls(text, tuple(alts))

    def matches(self, version: Version | str) -> bool:
        """True when `version` satisfies the range (pre-releases only when the range names one)."""
        v = Version.parse(version) if isinstance(version, str) else version
        for comps in self.alternatives:
            if not all(c.test(v) for c in comps):
                continue
            if v.is_prerelease and not any(c.version.is_prerelease and c.version.core == v.core for c in comps):
                continue
            return True
        return False

    def __str__(self) -> str:
        return self.spec


def parse_version(text: str) -> Version:
    """Shorthand for `Version.parse`."""
    return Version.parse(text)


def parse_range(spec: str) -> Range:
    """Shorthand for `Range.parse`."""
    return Range.parse(spec)


def max_satisfying(versions: Iterable[str | Version], spec: str | Range) -> Version | None:
    """The highest of `versions` matching `spec`, or None."""
    rng = spec if isinstance(spec, Range) else Range.parse(spec)
    best: Version | None = None
    for raw in versions:
        v = raw if isinstance(raw, Version) else Version.parse(raw)
        if rng.matches(v) and (best is None or v > best):
            best = v
    return best


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Version strings sorted by semver precedence, lowest first."""
    return sorted(versions, key=Version.parse)
