"""Pick one exact version per plugin: what extism.yaml wants plus, transitively, their dependencies.

Depth-first search with backtracking. Plugins are decided in the order they are first needed; for each,
the candidates are the versions that satisfy every requirement collected so far, highest first (a version
pinned by extism.lock first: no surprise upgrades), never a yanked one unless the lock pins it. Choosing a
version adds its dependencies as requirements; when one of them cannot be met (no version fits them all,
or an earlier choice excludes it) the next candidate is tried, and when a plugin runs out of candidates
the search backs up to the previous decision.

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
        reqs: dict[str, tuple[Requirement, ...]] = {}
        for name, spec in sorted(wanted.items()):
            try:
                rng = Range.parse(spec)
            except SemverError as exc:
                raise ResolveError(f"{self.root}: plugins.{name}: {exc}") from None
            reqs[name] = (Requirement(name, spec, rng, (f"{self.root} wants {name} {spec}",)),)
        for name, rs in reqs.items():
            if not self._options(name, rs, None):
                raise self._explain(self._nothing_fits(name, rs))
        outcome = self._solve({}, reqs, tuple(reqs))
        if isinstance(outcome, _Conflict):
            raise self._explain(outcome)
        return outcome

    def _solve(
        self, chosen: dict[str, Candidate], reqs: dict[str, tuple[Requirement, ...]], order: tuple[str, ...]
    ) -> dict[str, Candidate] | _Conflict:
        name = next((n for n in order if n not in chosen), None)
        if name is None:
            return chosen
        options = self._options(name, reqs[name], None)
        if not options:
            return self._nothing_fits(name, reqs[name])
        first: _Conflict | None = None
        for cand in options:
            self.steps += 1
            if self.steps > self.max_steps:
                raise ResolveError(
                    f"cannot resolve {self.root}: gave up after {self.max_steps} attempts "
                    "(narrow the ranges in extism.yaml)",
                    self._explain(first).lines if first else (),
                )
            outcome = self._choose(cand, chosen, reqs, order)
            if not isinstance(outcome, _Conflict):
                return outcome
            first = first or outcome
        assert first is not None
        if len(options) > 1:
            others = [str(c.version) for c in options[1:]]
            verdict = "it conflicts" if len(others) == 1 else "each conflicts"
            note = f"also tried {name} {_listing(others)}: {verdict} too"
            first = replace(first, notes=(*first.notes, note))
        return first

    def _choose(
        self,
        cand: Candidate,
        chosen: dict[str, Candidate],
        reqs: dict[str, tuple[Requirement, ...]],
        order: tuple[str, ...],
    ) -> dict[str, Candidate] | _Conflict:
        chosen = {**chosen, cand.name: cand}
        reqs = dict(reqs)
        new_order = list(order)
        via = reqs[cand.name][0].path
        for dep, spec in sorted(cand.dependencies.items()):
            step = f"{cand.name} {cand.version} needs {dep} {spec}"
            try:
                rng = Range.parse(spec)
            except SemverError as exc:
                raise ResolveError(f"cannot resolve {self.root}: {step}, an invalid range ({exc})", via) from None
            reqs[dep] = (*reqs.get(dep, ()), Requirement(dep, spec, rng, (*via, step)))
            if dep not in new_order:
                new_order.append(dep)
            if dep in chosen:
                if not rng.matches(chosen[dep].version):
                    return _Conflict(dep, reqs[dep], chosen[dep].version)
            elif not self._options(dep, reqs[dep], cand.name):  # look ahead: fail before deciding others
                return self._nothing_fits(dep, reqs[dep])
        return self._solve(chosen, reqs, tuple(new_order))

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
