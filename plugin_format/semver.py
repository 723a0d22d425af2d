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
| `1.2 - 2.3`      | >=1.2.0, <2.4.0 (`1.2.3 - 2.3.4`: <=2.3.4) |

Pre-releases (`2.0.0-rc.1`) match only a range whose comparators name a pre-release of the same
major.minor.patch (as npm does), so `^1.2` and `>1.2` never silently select `1.3.0-beta`; the `-0`
our computed bounds carry (`<2.0.0-0`) does not count as naming one. `Range.parse(spec,
include_prerelease=True)` is npm's `includePrerelease` option: pre-releases then match like releases.
Digits are ASCII only, here and in plugin.schema.json (`VERSION_PATTERN` is the schema's pattern).

These rules are checked against npm's own `semver` package (strict mode: `valid`, `validRange`,
`satisfies` with and without `includePrerelease`, `maxSatisfying`, `inc`) by a differential test on
a generated corpus (tests/test_semver.py). The deliberate differences, all of them:

- a version is exactly `MAJOR.MINOR.PATCH[-PRE][+BUILD]`: npm's strict mode also takes `v1.2.3` and
  surrounding spaces; plugin.yaml and index files hold one spelling;
- `str(Version)` keeps build metadata (`1.2.3+build.5`), where npm's `valid()` drops it;
- numeric parts have no 2^53 cap (npm's is JavaScript's safe integer);
- `,` also separates comparators (`>=1,<2`, Cargo style), which npm refuses;
- an empty alternative around `||` (`1.2.3 ||`) is refused; npm reads it as `*`, so a typo would
  match everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

from plugin_format.errors import SemverError

_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
#: semver.org's grammar, ASCII digits only. plugin.schema.json's `version.pattern` is this string,
#: so the schema and the parser accept and reject the same versions (a test holds them equal).
VERSION_PATTERN = (
    rf"^({_NUM})\.({_NUM})\.({_NUM})(?:-({_PRE_ID}(?:\.{_PRE_ID})*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$(?!\n)"
)
_VERSION_RE = re.compile(VERSION_PATTERN)
_PARTIAL_RE = re.compile(
    r"^(?P<op>\^|~|>=|<=|>|<|=)?\s*v?(?P<major>[0-9]+|[xX*])(?:\.(?P<minor>[0-9]+|[xX*]))?(?:\.(?P<patch>[0-9]+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z"
)


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
        m = _VERSION_RE.search(str(text))
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
    #: the pre-release was written by the user (`>=2.0.0-rc.1`), not the `-0` a bound gets so that it
    #: also covers pre-releases (`<2.0.0-0`): only a written one lets pre-releases of its core through
    written_pre: bool = True

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


def _bound(op: str, v: Version) -> Comparator:
    """A comparator on a computed bound (`-0` added by us, not written by the user)."""
    return Comparator(op, v, written_pre=False)


def _expand(token: str, spec: str, include_prerelease: bool = False, hyphen_low: bool = False) -> list[Comparator]:
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
    if include_prerelease and not pre and op in ("", "=", "^", ">=") and (wild[2] or hyphen_low):
        lo = _lowest_pre(lo)  # as npm: a filled-in lower bound then starts at its first pre-release (not for ~)
        if op in ("", "=") and not wild[2]:
            op = ">="
    if wild[0]:
        return [] if op in ("", "=", ">=", "<=", "^", "~") else [_bound("<", Version(0, 0, 0, ("0",)))]
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
        return [Comparator(">=", lo), _bound("<", bump(n_fixed - 1))]
    if op == "^":
        # The first non-zero fixed part may not change.
        level = next((i for i in range(n_fixed) if nums[i] != 0), n_fixed - 1)
        return [Comparator(">=", lo), _bound("<", bump(level))]
    if op == "~":
        return [Comparator(">=", lo), _bound("<", bump(0 if n_fixed == 1 else 1))]
    if op == ">=":
        return [Comparator(">=", lo)]
    if op == "<":
        return [Comparator("<", lo) if n_fixed == 3 else _bound("<", _lowest_pre(lo))]
    if op == ">":
        # `>1.2` is `>=1.3.0-0`: its -0 is ours, so `1.3.0-beta` stays out (unless pre-releases are opted in)
        return [Comparator(">", lo) if n_fixed == 3 else _bound(">=", bump(n_fixed - 1))]
    # "<="
    return [Comparator("<=", lo) if n_fixed == 3 else _bound("<", bump(n_fixed - 1))]


_HYPHEN = re.compile(r"^(\S+)\s+-\s+(\S+)$")


@dataclass(frozen=True)
class Range:
    """A parsed range: alternatives (OR) of comparator sets (AND)."""

    spec: str
    alternatives: tuple[tuple[Comparator, ...], ...]
    #: npm's `includePrerelease`: pre-releases match like releases (`^1.2` then takes `1.5.0-rc.1`)
    include_prerelease: bool = False

    @classmethod
    def parse(cls, spec: str, *, include_prerelease: bool = False) -> Range:
        """Parse a range spec (see the module docstring); raise `SemverError` naming the bad part.
        `include_prerelease` opts in to pre-releases everywhere in the range (npm's option)."""
        text = str(spec).strip()
        alts = []
        for alt in text.split("||"):
            hyphen = _HYPHEN.match(alt.strip())
            if hyphen:  # `1.2 - 2.3` is `>=1.2.0 <2.4.0-0`; `1.2.3 - 2.3.4` is `>=1.2.3 <=2.3.4`
                low, high = hyphen.groups()
                lows = _expand(">=" + low, text, include_prerelease, hyphen_low=True)
                alts.append((*lows, *_expand("<=" + high, text)))
                continue
            alt = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alt.strip())
            tokens = [t for t in re.split(r"[,\s]+", alt) if t]
            if not tokens and "||" in text:
                raise SemverError(f"range {spec!r}: empty alternative around '||'")
            comps: list[Comparator] = []
            for tok in tokens:
                comps.extend(_expand(tok, text, include_prerelease))
            alts.append(tuple(comps))
        return cls(text, tuple(alts), include_prerelease)

    def matches(self, version: Version | str) -> bool:
        """True when `version` satisfies the range (pre-releases only when the range names one)."""
        v = Version.parse(version) if isinstance(version, str) else version
        for comps in self.alternatives:
            if not all(c.test(v) for c in comps):
                continue
            if (
                v.is_prerelease
                and not self.include_prerelease
                and not any(c.written_pre and c.version.is_prerelease and c.version.core == v.core for c in comps)
            ):
                continue
            return True
        return False

    def __str__(self) -> str:
        return self.spec


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


# ---- bumps (`hatch version minor`), as npm's `semver.inc` ----------------------------------------

#: hatch's segment words → npm's release types (`a`/`b`/`rc` are pre-releases with that identifier)
BUMP_ALIASES: dict[str, str | tuple[str, str]] = {
    "micro": "patch",
    "fix": "patch",
    "a": ("prerelease", "alpha"),
    "alpha": ("prerelease", "alpha"),
    "b": ("prerelease", "beta"),
    "beta": ("prerelease", "beta"),
    "c": ("prerelease", "rc"),
    "rc": ("prerelease", "rc"),
    "pre": ("prerelease", "rc"),
    "release": "release",
}
BUMPS = ("major", "minor", "patch", "premajor", "preminor", "prepatch", "prerelease", "release")


def _with_pre(core: tuple[int, int, int], preid: str | None) -> Version:
    return Version(*core, (preid, "0") if preid else ("0",))


def bump(version: Version, kind: str, preid: str | None = None) -> Version:
    """The next version, with npm's `semver.inc` rules: `patch` of `1.2.3-rc.1` is `1.2.3` (the
    release it led to), `minor` of `1.3.0-rc.1` is `1.3.0`, `prerelease` of `1.2.3-rc.1` is
    `1.2.3-rc.2` and of `1.2.3` is `1.2.4-0` (with `preid`: `1.2.4-rc.0`); `release` drops the
    pre-release. Build metadata is dropped, as npm does."""
    alias: str | tuple[str, str] = BUMP_ALIASES.get(kind, kind)
    if isinstance(alias, tuple):
        kind, preid = alias
    else:
        kind = alias
    major, minor, patch = version.core
    pre = version.prerelease
    if kind == "major":
        return Version(major, 0, 0) if pre and minor == 0 and patch == 0 else Version(major + 1, 0, 0)
    if kind == "minor":
        return Version(major, minor, 0) if pre and patch == 0 else Version(major, minor + 1, 0)
    if kind == "patch":
        return Version(major, minor, patch) if pre else Version(major, minor, patch + 1)
    if kind == "release":
        if not pre:  # as npm: nothing to release
            raise SemverError(f"{version}: not a pre-release, so `release` has nothing to drop")
        return Version(major, minor, patch)
    if kind == "premajor":
        return _with_pre((major + 1, 0, 0), preid)
    if kind == "preminor":
        return _with_pre((major, minor + 1, 0), preid)
    if kind == "prepatch":
        return _with_pre((major, minor, patch + 1), preid)
    if kind == "prerelease":
        if not pre:
            return _with_pre((major, minor, patch + 1), preid)
        if preid and pre[0] != preid:  # 1.2.3-alpha.4 → beta: 1.2.3-beta.0
            return _with_pre(version.core, preid)
        ids = list(pre)
        for i in range(len(ids) - 1, -1, -1):
            if ids[i].isdigit():
                ids[i] = str(int(ids[i]) + 1)
                return Version(*version.core, tuple(ids))
        return Version(*version.core, (*ids, "0"))
    words = ", ".join((*BUMPS, *BUMP_ALIASES))
    raise SemverError(f"{kind!r} is not a version bump (use one of {words}, or a version such as 1.4.0)")


_PEP440_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "rc": "rc", "c": "rc", "pre": "rc"}


def to_pep440(version: Version) -> str:
    """The Python-packaging spelling of a semantic version, for wheel metadata: `1.2.3-rc.1` →
    `1.2.3rc1`, `1.2.3-alpha` → `1.2.3a0`, `1.2.3-4` → `1.2.3.dev4` (a pre-release stays a
    pre-release; PEP 440 would read `1.2.3-4` as a post-release). Build metadata has no place in
    an index version and is dropped. Raises `SemverError` for a pre-release PEP 440 cannot say."""
    base = f"{version.major}.{version.minor}.{version.patch}"
    pre = version.prerelease
    if not pre:
        return base
    if len(pre) == 1 and pre[0].isdigit():
        return f"{base}.dev{pre[0]}"
    kind = _PEP440_PRE.get(pre[0].lower())
    rest = pre[1:]
    if kind and (not rest or (len(rest) == 1 and rest[0].isdigit())):
        return f"{base}{kind}{rest[0] if rest else 0}"
    raise SemverError(
        f"{version}: Python packaging cannot express this pre-release; use -alpha.N, -beta.N, -rc.N or -N"
    )
