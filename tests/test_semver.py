"""The semver range code the resolver and package manager share."""

from __future__ import annotations

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
