"""The resolver's dense logic against an in-memory version source (no registry, no I/O)."""

from __future__ import annotations

import pytest

from plugin_format.errors import ResolveError
from plugin_format.semver import Range
from registry_static.resolver import MemorySource, Resolver


def solve(packages: dict, wanted: dict, *, yanked: tuple[str, ...] = (), locked: dict | None = None) -> dict:
    got = Resolver(MemorySource(packages, yanked), locked=locked).resolve(wanted)
    return {name: str(c.version) for name, c in got.items()}


def explain(packages: dict, wanted: dict, **kw: object) -> list[str]:
    with pytest.raises(ResolveError) as exc:
        solve(packages, wanted, **kw)
    return str(exc.value).splitlines()


def test_highest_matching_and_transitive() -> None:
    pkgs = {"a": {"1.0.0": {"b": "^1"}, "1.2.0": {"b": "^1.1"}, "2.0.0": {}}, "b": {"1.0.0": {}, "1.1.3": {}}}
    assert solve(pkgs, {"a": "^1"}) == {"a": "1.2.0", "b": "1.1.3"}
    assert solve(pkgs, {"a": "*"}) == {"a": "2.0.0"}  # b is not needed by 2.0.0


def test_diamond_dependency_agrees_on_one_version() -> None:
    pkgs = {
        "app": {"1.0.0": {"left": "^1", "right": "^1"}},
        "left": {"1.0.0": {"base": ">=1.1"}},
        "right": {"1.0.0": {"base": "<1.3"}},
        "base": {"1.0.0": {}, "1.1.0": {}, "1.2.5": {}, "1.3.0": {}},
    }
    assert solve(pkgs, {"app": "1"}) == {"app": "1.0.0", "left": "1.0.0", "right": "1.0.0", "base": "1.2.5"}


def test_backtracks_to_an_older_version_that_fits() -> None:
    # x 1.2.0 needs y ^2, which clashes with extism.yaml's y ^1: x 1.1.0 is chosen instead.
    pkgs = {"x": {"1.1.0": {"y": "^1"}, "1.2.0": {"y": "^2"}}, "y": {"1.0.0": {}, "1.4.0": {}, "2.0.0": {}}}
    assert solve(pkgs, {"x": "^1", "y": "^1"}) == {"x": "1.1.0", "y": "1.4.0"}


def test_backtracks_over_an_earlier_choice() -> None:
    # base is chosen (2.0.0) before `top` reveals that only base 1.x works with it.
    pkgs = {
        "base": {"1.0.0": {}, "2.0.0": {}},
        "top": {"1.0.0": {"base": "^1"}},
        "mid": {"1.0.0": {"top": "^1"}},
    }
    assert solve(pkgs, {"base": "*", "mid": "^1"}) == {"base": "1.0.0", "mid": "1.0.0", "top": "1.0.0"}


def test_conflict_is_explained_one_step_per_line() -> None:
    # the proof: facts, then what follows from them ("so …"); both versions of @a/x are covered at once
    pkgs = {"@a/x": {"1.0.0": {"@a/y": "^2"}, "1.2.0": {"@a/y": "^2"}}, "@a/y": {"1.0.0": {}, "2.0.0": {}}}
    lines = explain(pkgs, {"@a/x": "^1", "@a/y": "^1"})
    assert lines == [
        "cannot resolve extism.yaml: conflicting requirements for @a/y",
        "  @a/x ^1 needs @a/y ^2",
        "  extism.yaml wants @a/x ^1",
        "  so extism.yaml needs @a/y ^2",
        "  extism.yaml wants @a/y ^1",
        "  no version of @a/y matches ^2 and ^1 (available: 1.0.0, 2.0.0)",
    ]


def test_versions_with_different_dependencies_are_explained_by_range() -> None:
    # x 1.2.0 and 1.3.0 need y ^2, x 1.0.0 needs z, which does not exist in a version that fits
    pkgs = {
        "x": {"1.0.0": {"z": "^5"}, "1.2.0": {"y": "^2"}, "1.3.0": {"y": "^2"}},
        "y": {"1.0.0": {}, "2.0.0": {}},
        "z": {"1.0.0": {}},
    }
    lines = explain(pkgs, {"x": "^1", "y": "^1"})
    assert lines[0] == "cannot resolve extism.yaml: conflicting requirements for y"
    assert lines[1:5] == [
        "  x 1.0.0 needs z ^5",
        "  no version of z matches ^5 (available: 1.0.0)",
        "  x >=1.2.0 needs y ^2",
        "  so x ^1 needs y ^2",
    ]
    assert lines[-1] == "  no version of y matches ^2 and ^1 (available: 1.0.0, 2.0.0)"


def test_a_step_resting_on_an_earlier_one_cites_it_by_number() -> None:
    pkgs = {
        "p0": {"2.1.0": {"p2": "~1.1"}, "1.2.0": {"p2": "^2"}},
        "p2": {"1.2.0": {"p0": "^2.0.0-beta.1"}, "1.1.0": {"p0": ">=1.1, <2"}},
    }
    assert explain(pkgs, {"p2": "1.x"}) == [
        "cannot resolve extism.yaml: no version of p2 matches ^2",
        "  p0 >=1.1, <2 needs p2 ^2",
        "  no version of p2 matches ^2 (available: 1.1.0, 1.2.0)",
        "  p2 ~1.1 needs p0 >=1.1, <2",
        "  [1] so p2 ~1.1 cannot be chosen",
        "  p0 ^2.0.0-beta.1 needs p2 ~1.1",
        "  p2 1.2.0 needs p0 ^2.0.0-beta.1",
        "  so p2 1.2.0 cannot be chosen",  # it would need itself at ~1.1
        "  so p2 1.x cannot be chosen (by [1])",
        "  extism.yaml wants p2 1.x",
        "  so extism.yaml's requirement p2 1.x cannot be met",
    ]


def test_deep_chain_conflict_with_an_earlier_choice() -> None:
    pkgs = {
        "app": {"1.1.0": {"units": "^0.4", "weather": "^1"}},
        "weather": {"1.2.0": {"units": "^0.3"}},
        "units": {"0.3.1": {}, "0.4.0": {}},
    }
    lines = explain(pkgs, {"app": "1.1.0"})
    assert lines == [
        "cannot resolve extism.yaml: conflicting requirements for units",
        "  weather ^1 needs units ^0.3",
        "  app 1.1.0 needs units ^0.4",
        "  no version of units matches ^0.3 and ^0.4 (available: 0.3.1, 0.4.0)",
        "  so weather ^1 and app 1.1.0 cannot be chosen together",
        "  app 1.1.0 needs weather ^1",
        "  so app 1.1.0 cannot be chosen",
        "  extism.yaml wants app 1.1.0",
        "  so extism.yaml's requirement app 1.1.0 cannot be met",
    ]


def test_missing_versions_and_packages() -> None:
    lines = explain({"a": {"1.0.0": {}}}, {"a": "^2"})
    assert lines == [
        "cannot resolve extism.yaml: no version of a matches ^2",
        "  extism.yaml wants a ^2",
        "  no version of a matches ^2 (available: 1.0.0)",
    ]
    lines = explain({"a": {"1.0.0": {"ghost": "^1"}}}, {"a": "1"})
    assert lines[0] == "cannot resolve extism.yaml: no plugin named 'ghost'"
    assert lines[1:] == ["  extism.yaml wants a 1", "  a 1.0.0 needs ghost ^1"]


def test_yanked_never_chosen_unless_locked() -> None:
    pkgs = {"a": {"1.0.0": {}, "1.1.0": {}}}
    assert solve(pkgs, {"a": "^1"}, yanked=("a@1.1.0",)) == {"a": "1.0.0"}
    assert solve(pkgs, {"a": "^1"}, yanked=("a@1.1.0",), locked={"a": "1.1.0"}) == {"a": "1.1.0"}
    lines = explain(pkgs, {"a": "1.1.0"}, yanked=("a@1.1.0",))
    assert lines[-1] == "  no version of a matches 1.1.0 (available: 1.0.0; yanked: 1.1.0)"


def test_locked_versions_win_while_they_satisfy() -> None:
    pkgs = {"a": {"1.0.0": {"b": "^1"}, "1.3.0": {"b": "^1"}}, "b": {"1.0.0": {}, "1.9.0": {}}}
    assert solve(pkgs, {"a": "^1"}, locked={"a": "1.0.0", "b": "1.0.0"}) == {"a": "1.0.0", "b": "1.0.0"}
    # the lock no longer satisfies extism.yaml: that one is re-resolved, the other kept
    assert solve(pkgs, {"a": "^1.1"}, locked={"a": "1.0.0", "b": "1.0.0"}) == {"a": "1.3.0", "b": "1.0.0"}


def test_prereleases_only_when_the_range_names_one() -> None:
    pkgs = {"a": {"1.0.0": {}, "2.0.0-rc.1": {}}, "b": {"1.0.0": {"a": "^2.0.0-rc.1"}}}
    assert solve(pkgs, {"a": "*"}) == {"a": "1.0.0"}
    assert solve(pkgs, {"a": ">=1"}) == {"a": "1.0.0"}
    assert solve(pkgs, {"b": "^1"}) == {"b": "1.0.0", "a": "2.0.0-rc.1"}


def test_the_prerelease_opt_in_is_the_range_s_own() -> None:
    # extism.yaml's `prerelease: true` arrives as a Range parsed with include_prerelease; a dependency's
    # range on the same plugin keeps npm's default, so both together still exclude the pre-release
    pkgs = {"a": {"1.0.0": {}, "1.1.0-rc.1": {}}, "b": {"1.0.0": {"a": "^1"}}}
    opt_in = Range.parse("^1", include_prerelease=True)
    assert solve(pkgs, {"a": opt_in}) == {"a": "1.1.0-rc.1"}
    assert solve(pkgs, {"a": "^1"}) == {"a": "1.0.0"}
    assert solve(pkgs, {"a": opt_in, "b": "^1"}) == {"a": "1.0.0", "b": "1.0.0"}
    lines = explain({"a": {"1.0.0": {}}}, {"a": Range.parse("^2", include_prerelease=True)})
    assert lines == [
        "cannot resolve extism.yaml: no version of a matches ^2 (pre-releases included)",
        "  extism.yaml wants a ^2 (pre-releases included)",
        "  no version of a matches ^2 (pre-releases included) (available: 1.0.0)",
    ]


def test_cycles_and_self_consistency() -> None:
    pkgs = {"a": {"1.0.0": {"b": "^1"}}, "b": {"1.0.0": {"a": "^1"}}}
    assert solve(pkgs, {"a": "*"}) == {"a": "1.0.0", "b": "1.0.0"}


def test_each_index_is_read_once_and_search_is_bounded() -> None:
    pkgs = {"a": {f"1.{i}.0": {"b": "^1"} for i in range(30)}, "b": {f"1.{i}.0": {"c": "^9"} for i in range(30)}}
    pkgs["c"] = {"1.0.0": {}}
    src = MemorySource(pkgs)
    resolver = Resolver(src, max_steps=100)
    with pytest.raises(ResolveError) as exc:
        resolver.resolve({"a": "^1"})
    assert str(exc.value).splitlines()[0] == "cannot resolve extism.yaml: no version of c matches ^9"
    assert sorted(src.calls) == ["a", "b", "c"]
    assert resolver.steps <= 4  # each of the 30 versions of a and of b shares its dependency: one fact each
    pkgs["c"]["9.0.0"] = {}
    assert solve(pkgs, {"a": "^1"})["c"] == "9.0.0"


def test_invalid_ranges_are_named() -> None:
    with pytest.raises(ResolveError, match=r"plugins\.a: range 'one'"):
        solve({"a": {"1.0.0": {}}}, {"a": "one"})
    with pytest.raises(ResolveError, match=r"a 1\.0\.0 needs b \?\?, an invalid range"):
        solve({"a": {"1.0.0": {"b": "??"}}, "b": {}}, {"a": "*"})


def chain(n: int, last: dict[str, dict[str, str]]) -> dict:
    """p0000 → p0001 → … → p<n-1>, each version 1.0.0 and 2.0.0 needing the next in its own major."""
    pkgs = {f"p{i:04d}": {v: {f"p{i + 1:04d}": f"^{v[0]}"} for v in ("1.0.0", "2.0.0")} for i in range(n - 1)}
    pkgs[f"p{n - 1:04d}"] = last
    return pkgs


def test_a_deep_chain_resolves_without_recursion() -> None:
    # 5,000 plugins, each needing the next: nothing is recursive, so depth is bounded by memory
    n = 5000
    resolver = Resolver(MemorySource(chain(n, {"1.0.0": {}, "2.0.0": {}})))
    got = resolver.resolve({"p0000": "*"})
    assert len(got) == n and all(str(c.version) == "2.0.0" for c in got.values())
    assert resolver.steps == n


def test_a_deep_chain_backtracks_at_its_far_end() -> None:
    # the last plugin has no 2.x: every 2.0.0 above it fails, found from the bottom up, one level at a time
    n = 2000
    resolver = Resolver(MemorySource(chain(n, {"1.0.0": {}})))
    got = resolver.resolve({"p0000": "*"})
    assert len(got) == n and all(str(c.version) == "1.0.0" for c in got.values())
    assert resolver.steps <= 3 * n


def test_a_deep_chain_that_cannot_resolve_is_explained_from_both_ends() -> None:
    n = 3000
    with pytest.raises(ResolveError) as exc:
        Resolver(MemorySource(chain(n, {"3.0.0": {}}))).resolve({"p0000": "*"})
    lines = str(exc.value).splitlines()
    assert lines[0].startswith("cannot resolve extism.yaml: no version of p2999 matches ^")
    assert len(lines) < 130 and any(ln.startswith("  … (") and ln.endswith(" more steps)") for ln in lines)
    for major in "12":  # the two versions of p2998 each need a p2999 that does not exist
        assert f"  p2998 ^{major} needs p2999 ^{major}" in lines
        assert f"  no version of p2999 matches ^{major} (available: 3.0.0)" in lines
    assert lines[-2:] == ["  extism.yaml wants p0000 *", "  so extism.yaml's requirement p0000 * cannot be met"]


def test_a_wide_plugin_keeps_its_unrelated_decisions_when_one_dependency_conflicts() -> None:
    # hub needs 3,000 plugins (3 versions each) and `a-late`, decided last; a-late 1.1.0 leads to a
    # conflict of its own (z ^2 against zz's z ^1): only a-late moves, the 3,000 decisions stay
    n = 3000
    wide = {f"w{i:04d}": {v: {} for v in ("1.0.0", "1.1.0", "1.2.0")} for i in range(n)}
    pkgs = {
        "hub": {"1.0.0": {**{w: "^1" for w in wide}, "a-late": "^1"}},
        **wide,
        "a-late": {"1.0.0": {}, "1.1.0": {"z": "^2", "zz": "^1"}},
        "z": {"1.0.0": {}, "2.0.0": {}},
        "zz": {"1.0.0": {"z": "^1"}},
    }
    resolver = Resolver(MemorySource(pkgs))
    got = resolver.resolve({"hub": "^1"})
    assert str(got["a-late"].version) == "1.0.0" and "z" not in got
    assert all(str(got[w].version) == "1.2.0" for w in wide)
    assert resolver.steps <= n + 8


def test_a_plugin_with_thousands_of_versions_is_decided_in_a_few_steps() -> None:
    # 2,000 versions; all but the oldest need a version of `dep` that does not exist: one fact covers them
    pkgs = {"big": {f"1.{i}.0": {"dep": "^2"} if i else {} for i in range(2000)}, "dep": {"1.0.0": {}}}
    resolver = Resolver(MemorySource(pkgs))
    assert str(resolver.resolve({"big": "^1"})["big"].version) == "1.0.0"
    assert resolver.steps <= 4


def conflict_behind_uninvolved_choices(fixable: bool) -> dict:
    """app 1.1.0 needs eight independent plugins (5 versions each) and, decided last, zz-late, which
    needs zz-core ^2 while app 1.1.0 itself asks for zz-core ^1. Plain backtracking retries every
    combination of the eight (5^8) before it reconsiders app; the conflict involves only app."""
    many = {f"a{k}": {f"1.{v}.0": {} for v in range(5)} for k in range(1, 9)}
    newest = {**{name: "^1" for name in many}, "zz-core": "^1", "zz-late": "^1"}
    older = {} if fixable else newest
    return {
        "app": {"1.0.0": older, "1.1.0": newest},
        **many,
        "zz-core": {"1.0.0": {}, "2.0.0": {}},
        "zz-late": {"1.0.0": {"zz-core": "^2"}},
    }


def test_backjumps_over_choices_that_took_no_part_in_a_conflict() -> None:
    resolver = Resolver(MemorySource(conflict_behind_uninvolved_choices(fixable=True)))
    got = resolver.resolve({"app": "^1"})
    assert {n: str(c.version) for n, c in got.items()} == {"app": "1.0.0"}
    # app 1.1.0, zz-late (decided next: its one version), the conflict, app 1.0.0 (plain backtracking
    # over the eight: > 20,000 attempts; the DFS with backjumping before PubGrub: 12)
    assert resolver.steps == 5


def test_an_unsolvable_conflict_behind_uninvolved_choices_is_explained_quickly() -> None:
    resolver = Resolver(MemorySource(conflict_behind_uninvolved_choices(fixable=False)))
    with pytest.raises(ResolveError) as exc:
        resolver.resolve({"app": "^1"})
    lines = str(exc.value).splitlines()
    assert lines == [
        "cannot resolve extism.yaml: conflicting requirements for zz-core",
        "  zz-late ^1 needs zz-core ^2",
        "  app ^1 needs zz-core ^1",  # both versions of app: one fact, the proof covers them at once
        "  no version of zz-core matches ^2 and ^1 (available: 1.0.0, 2.0.0)",
        "  so zz-late ^1 and app ^1 cannot be chosen together",
        "  app ^1 needs zz-late ^1",
        "  so app ^1 cannot be chosen",
        "  extism.yaml wants app ^1",
        "  so extism.yaml's requirement app ^1 cannot be met",
    ]
    assert resolver.steps == 4  # (the DFS with backjumping before PubGrub: 22; plain backtracking gave up)


def test_the_step_limit_is_still_a_last_resort_with_a_clear_message() -> None:
    resolver = Resolver(MemorySource(conflict_behind_uninvolved_choices(fixable=True)), max_steps=2)
    with pytest.raises(ResolveError, match=r"gave up after 2 attempts \(narrow the ranges in extism.yaml\)"):
        resolver.resolve({"app": "^1"})


def test_an_internal_error_while_fetching_is_never_a_download_failure() -> None:
    # python-tuf wraps whatever its fetch raises as "Failed to download …": that once hid a RecursionError
    from tuf.api import exceptions as tuf_exc

    from registry_static.client import _explain

    def wrapped(cause: BaseException) -> tuf_exc.DownloadError:
        try:
            raise tuf_exc.DownloadError("Failed to download http://127.0.0.1:1/x.json") from cause
        except tuf_exc.DownloadError as exc:
            return exc

    with pytest.raises(RecursionError):
        _explain(wrapped(RecursionError("maximum recursion depth exceeded")), "http://127.0.0.1:1/")
    network = _explain(wrapped(ConnectionRefusedError("refused")), "http://127.0.0.1:1/")
    assert "Failed to download" in str(network) and "refused" in str(network)
