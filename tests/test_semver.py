"""The semver range code the resolver and package manager share."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin_format.errors import SemverError
from plugin_format.semver import Range, Version, max_satisfying, sort_versions


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.2"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0", "1.0.1"),
        ("1.9.0", "1.10.0"),
        ("0.9.9", "1.0.0"),
    ],
)
def test_precedence_follows_semver_org(a: str, b: str) -> None:
    assert Version.parse(a) < Version.parse(b)


def test_build_metadata_is_ignored_in_comparisons() -> None:
    assert Version.parse("1.2.3+build.5") == Version.parse("1.2.3")
    assert str(Version.parse("1.2.3-rc.1+b7")) == "1.2.3-rc.1+b7"


@pytest.mark.parametrize("bad", ["1.2", "01.2.3", "1.2.3-", "v", "1.2.3.4", "1.2.3-01", ""])
def test_invalid_versions_are_rejected_with_the_text(bad: str) -> None:
    with pytest.raises(SemverError, match="not a semantic version"):
        Version.parse(bad)


CASES = [
    ("^1.2", ["1.2.0", "1.2.9", "1.9.0"], ["1.1.9", "2.0.0", "2.0.0-rc.1", "1.3.0-beta"]),
    ("^1.2.3", ["1.2.3", "1.99.0"], ["1.2.2", "2.0.0"]),
    ("^0.3", ["0.3.0", "0.3.7"], ["0.4.0", "0.2.9"]),
    ("^0.3.1", ["0.3.1", "0.3.9"], ["0.3.0", "0.4.0"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ("^0", ["0.0.1", "0.9.9"], ["1.0.0"]),
    ("~0.3.1", ["0.3.1", "0.3.5"], ["0.4.0", "0.3.0"]),
    ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
    ("~1", ["1.0.0", "1.9.9"], ["2.0.0"]),
    (">=1,<2", ["1.0.0", "1.5.5"], ["2.0.0", "0.9.0", "2.0.0-rc.1"]),
    (">=1 <2", ["1.0.0"], ["2.0.0"]),
    (">= 1.2.0, < 1.4", ["1.2.0", "1.3.9"], ["1.4.0"]),
    (">1.2.3", ["1.2.4"], ["1.2.3"]),
    (">1.2", ["1.3.0"], ["1.2.9"]),
    ("<=1.2", ["1.2.9", "0.1.0"], ["1.3.0"]),
    ("<=1.2.3", ["1.2.3"], ["1.2.4"]),
    ("1.2.3", ["1.2.3", "1.2.3+meta"], ["1.2.4", "1.2.3-rc.1"]),
    ("=1.2.3", ["1.2.3"], ["1.2.2"]),
    ("1.2", ["1.2.0", "1.2.7"], ["1.3.0"]),
    ("1.x", ["1.0.0", "1.7.1"], ["2.0.0"]),
    ("1.2.x", ["1.2.5"], ["1.3.0"]),
    ("*", ["0.0.1", "99.0.0"], ["1.0.0-rc.1"]),
    ("", ["1.0.0"], []),
    ("^1 || ^3", ["1.5.0", "3.0.0"], ["2.0.0"]),
    ("2.0.0-rc.1", ["2.0.0-rc.1"], ["2.0.0"]),
    ("^2.0.0-rc.1", ["2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.5.0"], ["2.0.1-rc.1", "3.0.0"]),
    (">=2.0.0-rc.2", ["2.0.0-rc.2", "2.0.0"], ["2.0.0-rc.1"]),
]


@pytest.mark.parametrize(("spec", "yes", "no"), CASES)
def test_ranges(spec: str, yes: list[str], no: list[str]) -> None:
    rng = Range.parse(spec)
    for v in yes:
        assert rng.matches(v), f"{spec} should match {v}"
    for v in no:
        assert not rng.matches(v), f"{spec} should not match {v}"


@pytest.mark.parametrize("bad", ["^", "~x.y", ">=1,<", "1.2.3 ||", "latest", "^1.x-rc.1"])
def test_invalid_ranges_name_the_bad_part(bad: str) -> None:
    with pytest.raises(SemverError, match="range"):
        Range.parse(bad)


def test_max_satisfying_and_sort() -> None:
    vs = ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "0.9.0"]
    assert str(max_satisfying(vs, "^1")) == "1.10.0"
    assert str(max_satisfying(vs, "^0.9")) == "0.9.0"
    assert max_satisfying(vs, "^3") is None
    assert sort_versions(vs) == ["0.9.0", "1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"]


def test_hyphen_ranges_and_the_prerelease_opt_in() -> None:
    assert Range.parse("1.2 - 2.3").matches("2.3.9") and not Range.parse("1.2 - 2.3").matches("2.4.0")
    assert Range.parse("1.2.3 - 2.3.4").matches("2.3.4") and not Range.parse("1.2.3 - 2.3.4").matches("2.3.5")
    assert not Range.parse(">1.2").matches("1.3.0-beta")  # the case: no pre-release slips through
    assert Range.parse(">1.2", include_prerelease=True).matches("1.3.0-beta")
    assert Range.parse("^1.2", include_prerelease=True).matches("1.5.0-rc.1")
    assert not Range.parse("^1.2", include_prerelease=True).matches("2.0.0-rc.1")


@pytest.mark.parametrize("text", ["1١.0.0", "1.٢.0", "１.0.0"])
def test_only_ascii_digits(text: str) -> None:
    with pytest.raises(SemverError):
        Version.parse(text)
    with pytest.raises(SemverError):
        Range.parse("^" + text)


# ---- the differential test against npm's own `semver` package (strict mode) -------------------------

NPM_SEMVER = "semver@7.7.2"
NODE_DRIVER = r"""
const semver = require(process.argv[1]);
const c = JSON.parse(require("fs").readFileSync(0, "utf8"));
const opt = (inc) => (inc ? { includePrerelease: true } : {});
const out = {
  valid: c.versions.map((v) => semver.valid(v)),
  validRange: c.ranges.map((r) => semver.validRange(r) !== null),
  satisfies: c.ranges.map((r) => c.good.map((v) => [false, true].map((i) => semver.satisfies(v, r, opt(i))))),
  max: c.ranges.map((r) => semver.maxSatisfying(c.good, r)),
  inc: c.good.map((v) => c.incs.map(([k, id]) => semver.inc(v, k, id || undefined))),
};
process.stdout.write(JSON.stringify(out));
"""


def _corpus() -> dict[str, list]:
    cores = ["0.0.0", "0.0.1", "0.1.0", "0.1.2", "1.0.0", "1.2.0", "1.2.3", "1.2.4", "1.3.0", "1.9.9", "2.0.0", "2.3.4"]
    pres = ["", "-0", "-alpha", "-alpha.1", "-beta.2", "-beta.11", "-rc.1", "-1.alpha"]
    good = [c + p for c in cores for p in pres[:: 1 if c in ("1.2.3", "2.0.0", "1.3.0") else 4]]
    good += ["1.2.3+build.5", "1.2.3-rc.1+b7", "10.20.30", "999999.0.0"]
    bad = ["1.2", "01.2.3", "1.2.3-", "v", "1.2.3.4", "1.2.3-01", "", "1١.0.0", " 1.2.3", "1.2.3 ", "a.b.c"]
    bad += ["1.2.3-beta..1", "1.2.3+", "-1.2.3", "1.2.3-α", "9007199254740992.0.0", "v1.2.3", "=1.2.3"]
    base = ["1", "1.2", "1.2.3", "0", "0.1", "0.0.3", "1.2.3-rc.1", "2.0.0-alpha", "1.x", "1.2.x", "*", "x"]
    ranges = ["", "*", "x", "X", "1.x.x", "1.*"]
    ranges += [op + b for op in ("", "=", "^", "~", ">", ">=", "<", "<=") for b in base if b not in ("*", "x")]
    ranges += ["1.2 - 2.3", "1.2.3 - 2.3.4", "1 - 2", "1.2.3-rc.1 - 2", "1.x - 2.x", "0.1.2 - 0.1.2"]
    ranges += ["^1 || ^2", ">=1.2.3 <2", ">=1.2.3 <2 || 2.3.x", "<1 || >=2.0.0-rc.1", ">=1.2.3-alpha <1.2.4"]
    ranges += ["^0.0", "~0", "^1.2.3+build", ">= 1.2.0  < 1.4", "~1.2.3-beta.2", "^1.2.3-beta.2", "1.2.3+meta"]
    ranges += ["latest", "^", "~x.y", ">=1,<2", "1.2.3 ||", "^1.x-rc.1", "1.2.3.4", "||", ">=1١", "1 -2"]
    incs = [[k, ""] for k in ("major", "minor", "patch", "premajor", "preminor", "prepatch", "prerelease", "release")]
    incs += [["prerelease", "beta"], ["premajor", "rc"], ["preminor", "alpha"]]
    return {"versions": good + bad, "good": good, "ranges": ranges, "incs": incs}


def _ours(c: dict[str, list]) -> dict[str, list]:
    from plugin_format.semver import bump

    def valid(v: str) -> str | None:
        try:
            return str(Version.parse(v))
        except SemverError:
            return None

    def rng(r: str, inc: bool = False) -> Range | None:
        try:
            return Range.parse(r, include_prerelease=inc)
        except SemverError:
            return None

    def inc_(v: str, kind: str, ident: str) -> str | None:
        try:
            return str(bump(Version.parse(v), kind, ident or None))
        except SemverError:
            return None

    vs = [Version.parse(v) for v in c["good"]]
    return {
        "valid": [valid(v) for v in c["versions"]],
        "validRange": [rng(r) is not None for r in c["ranges"]],
        "satisfies": [[[bool(x) and x.matches(v) for x in (rng(r), rng(r, True))] for v in vs] for r in c["ranges"]],
        "max": [(lambda x: None if x is None else _npm_str(max_satisfying(vs, x)))(rng(r)) for r in c["ranges"]],
        "inc": [[inc_(v, k, i) for k, i in c["incs"]] for v in c["good"]],
    }


def _npm_str(v: Version | None) -> str | None:
    # npm's maxSatisfying returns the version as given (with build metadata); ours drops nothing either
    return None if v is None else str(v)


#: Deliberate differences from npm's strict mode, each a predicate over (kind, input, npm, ours).
#: The module docstring of plugin_format/semver.py lists the same ones.
def _deliberate(kind: str, what: str, npm: object, ours: object) -> str | None:
    if kind == "valid" and what in ("v1.2.3", " 1.2.3", "1.2.3 ") and ours is None:
        return "a version is exactly MAJOR.MINOR.PATCH[-PRE][+BUILD]: no `v` prefix, no surrounding spaces"
    if kind == "valid" and what == "9007199254740992.0.0" and npm is None:
        return "no 2^53 cap on numeric parts (npm's is JavaScript's safe integer)"
    if kind in ("validRange", "satisfies", "max") and "," in what and ours not in (False, None):
        return "`,` also separates comparators (Cargo style: `>=1,<2`)"
    if kind == "valid" and what in ("1.2.3+build.5", "1.2.3-rc.1+b7") and ours == what:
        return "build metadata is kept in the string form (npm's valid() drops it)"
    if kind == "validRange" and "||" in what and not ours:
        return "an empty alternative around `||` is refused (npm reads it as `*`: a typo would match everything)"
    return None


def _npm_semver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    from hatch_extism.toolchains.base import npm_install_staged
    from plugin_format.paths import cache_dir

    npm = shutil.which("npm")
    if not shutil.which("node") or npm is None:
        pytest.skip("node and npm are not on PATH: the differential test against npm's semver package needs them")
    target = cache_dir() / "npm" / NPM_SEMVER.replace("@", "-")
    module = target / "node_modules" / "semver"
    if not module.is_dir():
        with npm_install_staged(npm, [NPM_SEMVER], target, ready=lambda d: (d / "node_modules" / "semver").is_dir()):
            pass
    return module


def test_differential_against_npm_semver(tmp_path_factory: pytest.TempPathFactory) -> None:
    import json
    import subprocess

    module = _npm_semver(tmp_path_factory)
    corpus = _corpus()
    p = subprocess.run(
        ["node", "-e", NODE_DRIVER, str(module)], input=json.dumps(corpus), capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    npm, ours = json.loads(p.stdout), _ours(corpus)
    unexplained: list[str] = []
    explained: set[str] = set()

    def check(kind: str, what: str, a: object, b: object) -> None:
        if a == b:
            return
        why = _deliberate(kind, what, a, b)
        if why:
            explained.add(why)
        else:
            unexplained.append(f"{kind}({what!r}): npm {a!r}, ours {b!r}")

    for v, a, b in zip(corpus["versions"], npm["valid"], ours["valid"], strict=True):
        check("valid", v, a, b)
    for i, r in enumerate(corpus["ranges"]):
        check("validRange", r, npm["validRange"][i], ours["validRange"][i])
        if not (npm["validRange"][i] and ours["validRange"][i]):
            continue
        check("max", r, npm["max"][i], ours["max"][i])
        for j, v in enumerate(corpus["good"]):
            for k, mode in enumerate(("", " includePrerelease")):
                check("satisfies", f"{v} in {r}{mode}", npm["satisfies"][i][j][k], ours["satisfies"][i][j][k])
    for j, v in enumerate(corpus["good"]):
        for k, (kind, ident) in enumerate(corpus["incs"]):
            check("inc", f"{v} {kind} {ident}".strip(), npm["inc"][j][k], ours["inc"][j][k])
    print("deliberate differences seen:", *sorted(explained), sep="\n  ")
    assert not unexplained, f"{len(unexplained)} differences from npm semver:\n" + "\n".join(unexplained[:60])
