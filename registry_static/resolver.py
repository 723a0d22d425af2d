"""Pick one exact version per plugin: what extism.yaml wants plus, transitively, their dependencies.

Depth-first search with backtracking. Plugins are decided in the order they are first needed; for each,
the candidates are the versions that satisfy every requirement collected so far, highest first (a version
pinned by extism.lock first: no surprise upgrades), never a yanked one unless the lock pins it. Choosing a
version adds its dependencies as requirements; when one of them cannot be met (no version fits them all,
or an earlier choice excludes it) the next candidate is tried, and when a plugin runs out of candidates
the search backs up straight to the most recent decision the conflict involves (conflict-directed
backjumping), remembering the combination as one never to try again (see `_Search`). The search keeps
its own stack, so a dependency chain may be as deep as memory allows. `MAX_STEPS` attempts are the last
resort.

When nothing works, the error explains the first conflict met, as the chains of requirements that lead
to it, one step per line:

    cannot resolve extism.yaml: conflicting requirements for @a/y
      extism.yaml wants @a/y ^1
      extism.yaml wants @a/x ^1
        @a/x 1.2.0 needs @a/y ^2
      no version of @a/y matches ^1 and ^2 (available: 1.0.0, 1.4.0, 2.0.0)
      also tried @a/x 1.1.0, 1.0.0: each conflicts too

Versions come from a `VersionSource` (the registries for `install`, a dict in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from plugin_format.errors import RegistryError, ResolveError, SemverError
from plugin_format.semver import Range, Version

MAX_STEPS = 20_000
_LIST_MAX = 8


@dataclass(frozen=True)
class Candidate:
    """One published version as the resolver sees it."""

    name: str
    version: Version
    dependencies: Mapping[str, str] = field(default_factory=dict)
    yanked: bool = False
    data: Any = None  # whatever the source attaches (the registry's VersionInfo)


class VersionSource(Protocol):
    def candidates(self, name: str, wanted_by: str | None) -> Sequence[Candidate]:
        """Every published version of `name` (yanked ones included). `wanted_by` is the plugin whose
        dependency this is (None: the project itself), for sources that route names to registries."""
        ...


@dataclass(frozen=True)
class Requirement:
    name: str
    spec: str
    range: Range
    path: tuple[str, ...]  # how it arose: "extism.yaml wants …", "@a/x 1.2.0 needs …", …
    by: str | None = None  # the plugin whose chosen version asks for it (None: the project itself)


@dataclass(frozen=True)
class _Conflict:
    name: str
    requirements: tuple[Requirement, ...]
    chosen: Version | None = None  # an earlier choice that the last requirement excludes
    notes: tuple[str, ...] = ()


def _listing(items: Sequence[str]) -> str:
    if len(items) <= _LIST_MAX:
        return ", ".join(items)
    return ", ".join(items[:_LIST_MAX]) + f", … ({len(items) - _LIST_MAX} more)"


class Resolver:
    """`Resolver(source, locked={name: version}).resolve({name: range})` → {name: Candidate}."""

    def __init__(
        self,
        source: VersionSource,
        *,
        locked: Mapping[str, str | Version] | None = None,
        root: str = "extism.yaml",
        max_steps: int = MAX_STEPS,
    ) -> None:
        self.source = source
        self.locked = {n: v if isinstance(v, Version) else Version.parse(v) for n, v in (locked or {}).items()}
        self.root = root
        self.max_steps = max_steps
        self.steps = 0
        self._known: dict[str, list[Candidate]] = {}

    # ---- versions ------------------------------------------------------------------------------

    def _all(self, req: Requirement, wanted_by: str | None) -> list[Candidate]:
        if req.name not in self._known:
            try:
                found = list(self.source.candidates(req.name, wanted_by))
            except RegistryError as exc:
                raise ResolveError(f"cannot resolve {self.root}: {exc}", req.path) from None
            self._known[req.name] = sorted(found, key=lambda c: c.version, reverse=True)
        return self._known[req.name]

    def _options(self, name: str, reqs: Sequence[Requirement], wanted_by: str | None) -> list[Candidate]:
        pinned = self.locked.get(name)
        fits = [
            c
            for c in self._all(reqs[0], wanted_by)
            if (not c.yanked or c.version == pinned) and all(r.range.matches(c.version) for r in reqs)
        ]
        fits.sort(key=lambda c: c.version != pinned)  # stable: the pinned one first, then highest first
        return fits

    # ---- search --------------------------------------------------------------------------------

    def resolve(self, wanted: Mapping[str, str]) -> dict[str, Candidate]:
        """Exact versions for `wanted` ({name: range}) and everything they depend on."""
        reqs: dict[str, list[Requirement]] = {}
        for name, spec in sorted(wanted.items()):
            try:
                rng = Range.parse(spec)
            except SemverError as exc:
                raise ResolveError(f"{self.root}: plugins.{name}: {exc}") from None
            reqs[name] = [Requirement(name, spec, rng, (f"{self.root} wants {name} {spec}",))]
        for name, rs in reqs.items():
            if not self._options(name, rs, None):
                raise self._explain(self._nothing_fits(name, rs))
        return _Search(self, reqs).run()

    def _step(self, level: _Level) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise ResolveError(
                f"cannot resolve {self.root}: gave up after {self.max_steps} attempts "
                "(narrow the ranges in extism.yaml)",
                self._explain(level.first).lines if level.first else (),
            )

    # ---- explanations ---------------------------------------------------------------------------

    def _nothing_fits(self, name: str, reqs: Sequence[Requirement]) -> _Conflict:
        return _Conflict(name, tuple(reqs))

    def _explain(self, c: _Conflict) -> ResolveError:
        lines: list[str] = []
        prev: tuple[str, ...] = ()
        for r in c.requirements:
            same = 0
            while same < min(len(prev), len(r.path)) and prev[same] == r.path[same]:
                same += 1
            lines += ["  " * depth + r.path[depth] for depth in range(same, len(r.path))]
            prev = r.path
        known = self._known.get(c.name, [])
        live = [str(k.version) for k in reversed(known) if not k.yanked]
        yanked = [str(k.version) for k in reversed(known) if k.yanked]
        available = f"available: {_listing(live) or 'none'}" + (f"; yanked: {_listing(yanked)}" if yanked else "")
        specs = list(dict.fromkeys(r.spec for r in c.requirements))
        if c.chosen is not None and any(all(r.range.matches(k.version) for r in c.requirements) for k in known):
            lines.append(f"{c.name} {c.chosen} was chosen first, and {c.requirements[-1].spec} excludes it")
        else:
            lines.append(f"no version of {c.name} matches {' and '.join(specs)} ({available})")
        lines += c.notes
        if len(c.requirements) == 1:
            summary = f"cannot resolve {self.root}: no version of {c.name} matches {specs[0]}"
        else:
            summary = f"cannot resolve {self.root}: conflicting requirements for {c.name}"
        return ResolveError(summary, lines)


class MemorySource:
    """A `VersionSource` from a dict: {name: {version: {dep: range}}}, plus yanked `name@version`s."""

    def __init__(self, packages: Mapping[str, Mapping[str, Mapping[str, str]]], yanked: Sequence[str] = ()) -> None:
        self.packages = packages
        self.yanked = set(yanked)
        self.calls: list[str] = []

    def candidates(self, name: str, wanted_by: str | None) -> list[Candidate]:
        self.calls.append(name)
        if name not in self.packages:
            raise RegistryError(f"no plugin named {name!r}")
        return [
            Candidate(name, Version.parse(v), dict(deps), f"{name}@{v}" in self.yanked)
            for v, deps in self.packages[name].items()
        ]


def _blame(reqs: Sequence[Requirement]) -> set[str]:
    """The decisions that put `reqs` there (the project's own requirements are no decision)."""
    return {r.by for r in reqs if r.by is not None}


@dataclass
class _Level:
    """One decision on the search's explicit stack: which plugin, its candidates, how far through them,
    where the trail stood before its current candidate, and what its failures so far were caused by."""

    name: str
    options: list[Candidate]
    pos: int  # the plugin's index in the search's order
    trail: int
    order: int
    at: int = 0
    first: _Conflict | None = None
    blame: set[str] = field(default_factory=set)


class _Search:
    """The depth-first search of `Resolver.resolve`, iterative (an explicit stack: any depth fits) and
    with conflict-directed backjumping.

    Every failure carries the set of earlier decisions it depends on: the plugins whose chosen versions
    introduced the requirements that cannot all be met (or the one whose chosen version a new requirement
    excludes). When a plugin runs out of candidates, the union of its candidates' sets plus whoever
    required it is its conflict set, and the search backs up straight to the most recent decision in it:
    the decisions in between took no part, so trying their other versions would fail the same way. It only
    skips subtrees without a solution, so the answer is the one plain backtracking finds (highest
    versions first, the lock first), and the explanation is still the first conflict met.

    State is kept in place (chosen versions, requirements per plugin, the order plugins were first needed)
    with a trail of appended requirements, so undoing a decision is truncating to the marks of its level.
    """

    def __init__(self, resolver: Resolver, reqs: dict[str, list[Requirement]]) -> None:
        self.r = resolver
        self.chosen: dict[str, Candidate] = {}
        self.reqs = reqs
        self.order = list(reqs)
        self.needed = set(self.order)
        self.trail: list[str] = []
        self.stack: list[_Level] = []
        # learned incompatibilities: sets of (plugin, version) decisions that cannot all hold, indexed by
        # each member, with the conflict that taught it
        self.nogoods: dict[tuple[str, Version], list[tuple[frozenset[tuple[str, Version]], _Conflict]]] = {}

    def run(self) -> dict[str, Candidate]:
        pos = 0
        failure: tuple[_Conflict, set[str]] | None = None
        while True:
            if failure is None:
                while pos < len(self.order) and self.order[pos] in self.chosen:
                    pos += 1
                if pos == len(self.order):
                    return dict(self.chosen)
                name = self.order[pos]
                options = self.r._options(name, self.reqs[name], None)
                if not options:
                    blame = self._cover(self._usable(name), self.reqs[name]) | _blame(self.reqs[name][:1])
                    failure = (self.r._nothing_fits(name, self.reqs[name]), blame)
                else:
                    self.stack.append(_Level(name, options, pos, len(self.trail), len(self.order)))
            if failure is not None:
                conflict, blame = failure
                while self.stack and self.stack[-1].name not in blame:  # backjump over the uninvolved
                    self._undo(self.stack.pop())
                if not self.stack:
                    raise self.r._explain(conflict)
                self._fail(self.stack[-1], conflict, blame)
            top = self.stack[-1]
            failure = None
            while top.at < len(top.options):
                cand = top.options[top.at]
                top.at += 1
                self.r._step(top)
                outcome = self._known_bad(cand) or self._choose(top, cand)
                if outcome is None:
                    break
                self._fail(top, *outcome)
            else:  # out of candidates: the failure is the first one met, blamed on all that led here
                self.stack.pop()
                first = top.first
                assert first is not None
                if len(top.options) > 1:
                    others = [str(c.version) for c in top.options[1:]]
                    verdict = "it conflicts" if len(others) == 1 else "each conflicts"
                    note = f"also tried {top.name} {_listing(others)}: {verdict} too"
                    first = replace(first, notes=(*first.notes, note))
                rest = [c for c in self._usable(top.name) if c not in top.options]
                reqs = self.reqs[top.name]  # the first one is there for as long as its decision: the plugin is needed
                blame = (top.blame | self._cover(rest, reqs) | _blame(reqs[:1])) - {top.name}
                self._learn(blame, first)
                failure = (first, blame)
                continue
            pos = top.pos + 1

    def _usable(self, name: str) -> list[Candidate]:
        pinned = self.r.locked.get(name)
        return [c for c in self.r._known.get(name, ()) if not c.yanked or c.version == pinned]

    def _cover(self, versions: Sequence[Candidate], reqs: Sequence[Requirement]) -> set[str]:
        """The decisions behind some of `reqs` that between them exclude every one of `versions`. `reqs`
        are in the order they arose, so the earliest that still exclude something are taken: a conflict
        set of early decisions lets the search jump furthest back, past the decisions that took no part."""
        left, blame = list(versions), set()
        for r in reqs:
            if not left:
                break
            kept = [c for c in left if r.range.matches(c.version)]
            if len(kept) < len(left):
                left = kept
                if r.by is not None:
                    blame.add(r.by)
        assert not left, "the requirements leave a version"
        return blame

    def _blame_new(self, dep: str, otherwise: set[str]) -> set[str]:
        """Why `dep`'s newest requirement cannot be met: when no version fits all of `dep`'s requirements,
        the decisions behind a few that exclude them all (another version of `dep` would not help);
        else `otherwise` (the choice of `dep` it excludes)."""
        reqs = self.reqs[dep]
        if any(all(r.range.matches(c.version) for r in reqs) for c in self._usable(dep)):
            return otherwise
        new = reqs[-1]
        return self._cover([c for c in self._usable(dep) if new.range.matches(c.version)], reqs) | _blame((new,))

    def _learn(self, blame: set[str], conflict: _Conflict) -> None:
        """`blame`'s current versions together leave a plugin no version: never try them together again."""
        if blame:
            nogood = frozenset((n, self.chosen[n].version) for n in blame)
            for member in nogood:
                self.nogoods.setdefault(member, []).append((nogood, conflict))

    def _known_bad(self, cand: Candidate) -> tuple[_Conflict, set[str]] | None:
        for nogood, conflict in self.nogoods.get((cand.name, cand.version), ()):
            others = {n for n, v in nogood if n != cand.name}
            if all(n in self.chosen and self.chosen[n].version == v for n, v in nogood if n != cand.name):
                return conflict, others
        return None

    def _fail(self, level: _Level, conflict: _Conflict, blame: set[str]) -> None:
        """The current candidate of `level` failed: undo it and remember why."""
        self._undo(level)
        level.first = level.first or conflict
        level.blame |= blame - {level.name}

    def _undo(self, level: _Level) -> None:
        self.chosen.pop(level.name, None)
        while len(self.trail) > level.trail:
            self.reqs[self.trail.pop()].pop()
        for dep in self.order[level.order :]:
            self.needed.discard(dep)
            if not self.reqs[dep]:
                del self.reqs[dep]
        del self.order[level.order :]

    def _choose(self, level: _Level, cand: Candidate) -> tuple[_Conflict, set[str]] | None:
        """Decide `cand`; its dependencies become requirements. A conflict (and the decisions it is due
        to) when one cannot be met: it excludes an earlier choice, or no version fits them all."""
        r, reqs, chosen = self.r, self.reqs, self.chosen
        chosen[cand.name] = cand
        via = reqs[cand.name][0].path
        for dep, spec in sorted(cand.dependencies.items()):
            step = f"{cand.name} {cand.version} needs {dep} {spec}"
            try:
                rng = Range.parse(spec)
            except SemverError as exc:
                raise ResolveError(f"cannot resolve {r.root}: {step}, an invalid range ({exc})", via) from None
            reqs.setdefault(dep, []).append(Requirement(dep, spec, rng, (*via, step), cand.name))
            self.trail.append(dep)
            if dep not in self.needed:
                self.needed.add(dep)
                self.order.append(dep)
            if dep in chosen:
                if not rng.matches(chosen[dep].version):
                    return _Conflict(dep, tuple(reqs[dep]), chosen[dep].version), self._blame_new(dep, {dep})
            elif not r._options(dep, reqs[dep], cand.name):  # look ahead: fail before deciding others
                return r._nothing_fits(dep, reqs[dep]), self._blame_new(dep, set())
        return None
