"""`extism-registry` — create, publish to, check, browse and serve a signed static plugin registry."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from plugin_format.cli import add_version_flag
from plugin_format.errors import run_command

PROG = "extism-registry"

EXAMPLES = {
    "main": """examples:
  extism-registry init ./registry                          # keys go to ./registry.keys (keep root/targets offline)
  extism-registry keys add-scope ./registry @acme --author alice.pem.pub   # a new scope and its authors
  extism-registry keys add-author ./registry _ alice.pem.pub   # '_': plugins without a scope (exists from init)
  extism-registry publish ./registry dist/acme-weather-1.2.0.wasm
  extism-registry site ./registry && extism-registry serve ./registry --port 8000
  extism-registry show http://127.0.0.1:8000 @acme/weather
""",
    "init": """examples:
  extism-registry init ./registry
  extism-registry init ./registry --keys ~/secure/registry-keys --name "Acme plugins"
  extism-registry init ./registry --timestamp-days 1 --snapshot-days 7 --json
""",
    "publish": """examples:
  extism-registry publish ./registry dist/acme-weather-1.2.0.wasm
  extism-registry publish ./registry dist/*.wasm --readme README.md --site
  extism-registry publish ./registry dist/acme-weather-1.2.0.sig --json
""",
    "yank": """examples:
  extism-registry yank ./registry @acme/weather 1.2.0      # still fetchable by exact version (lockfiles)
  extism-registry yank ./registry @acme/weather '<1.1'     # a range yanks every matching version
""",
    "unyank": """examples:
  extism-registry unyank ./registry @acme/weather 1.2.0
""",
    "deprecate": """examples:
  extism-registry deprecate ./registry @acme/weather '<2' --message "use 2.x: the v1 API is gone"
  extism-registry deprecate ./registry @acme/weather 1.0.0 --clear
""",
    "advisory": """examples:
  extism-registry advisory add ./registry @acme/weather --affected '<1.2.1' --severity high \\
      --summary "leaks the API key in error messages" --fixed 1.2.1 --url https://acme.example/sec/1
  extism-registry advisory list ./registry @acme/weather --json
  extism-registry advisory withdraw ./registry ACME-2026-0001
""",
    "keys": """examples:
  extism-registry keys list ./registry
  extism-registry keys add-scope ./registry @acme --author alice.pem.pub --author bob.pem.pub
  extism-registry keys add-scope ./registry @internal --author ci.pem.pub --private
  extism-registry keys add-author ./registry @acme carol.pem.pub --label carol   # one more author, existing scope
  extism-registry keys add-author ./registry _ alice.pem.pub   # '_' = unscoped plugins (greeter, not @acme/x)
  extism-registry keys remove-author ./registry @acme 1dc2f741
  extism-registry keys rotate ./registry timestamp         # or root, targets, snapshot, @acme
""",
    "refresh": """examples:
  extism-registry refresh ./registry                       # run daily (cron / CI): timestamp expires in 7 days
  extism-registry refresh ./registry --within 30 --json    # also re-sign roles expiring within 30 days
""",
    "verify": """examples:
  extism-registry verify ./registry
  extism-registry verify ./registry --root trusted-1.root.json --json
""",
    "site": """examples:
  extism-registry site ./registry
  extism-registry site ./registry --featured @acme/weather --featured @acme/units
""",
    "serve": """examples:
  extism-registry serve ./registry                         # http://127.0.0.1:8000/
  extism-registry serve ./registry --tokens tokens.yaml     # private scopes: tokens (their sha256) → scopes
  extism-registry serve ./registry --port 9000 --token s3cret   # the whole directory private to one token
  extism-registry serve ./registry --access-log logs/access.jsonl   # one JSON line per request, no IPs
""",
    "config": """examples:
  extism-registry config ./registry --title "Acme plugins"
  extism-registry config ./registry --featured @acme/weather --featured greeter   # the site's showcase
  extism-registry config ./registry --no-featured --json
""",
    "stats": """examples:
  extism-registry stats logs/access.jsonl --registry ./registry          # downloads per plugin, version, day
  extism-registry stats /var/log/nginx/access.log* --registry ./registry --since 2026-01-01 --json
  extism-registry stats logs/access.jsonl* --write ./registry && extism-registry site ./registry
""",
    "access": """examples:
  extism-registry access ./registry                        # which scopes are private
  extism-registry access ./registry @acme private          # @acme: served only with a token that reads it
  extism-registry access ./registry @acme public
""",
    "show": """examples:
  extism-registry show https://plugins.example.com @acme/weather
  extism-registry show file:///srv/registry @acme/weather --json
""",
    "fetch": """examples:
  extism-registry fetch https://plugins.example.com @acme/weather@^1.2 --out ./plugins
  extism-registry fetch ./registry greeter@0.1.0 --json
""",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _out(args: argparse.Namespace, doc: Any, text: str) -> None:
    print(json.dumps(doc, indent=2) if getattr(args, "json", False) else text)


def _keys(args: argparse.Namespace) -> Path | None:
    return Path(args.keys).expanduser() if getattr(args, "keys", None) else None


def _repo(args: argparse.Namespace) -> Any:
    from registry_static.repository import Repository

    return Repository(Path(args.dir), _keys(args))


# ------------------------------------------------------------------ commands


def cmd_init(args: argparse.Namespace) -> int:
    from registry_static.repository import Repository

    expiry = {
        k: v
        for k, v in (("timestamp", args.timestamp_days), ("snapshot", args.snapshot_days), ("root", args.root_days))
        if v is not None
    }
    repo = Repository.init(Path(args.dir), _keys(args), name=args.name, expiry_days=expiry)
    k = repo.keys.dir
    doc = {
        "registry": str(repo.dir),
        "keys": str(k),
        "offline_keys": [str(k / "root.pem"), str(k / "targets.pem")],
        "online_keys": [str(k / "snapshot.pem"), str(k / "timestamp.pem"), str(k / "unscoped.pem")],
    }
    _out(
        args,
        doc,
        f"created registry {repo.dir} (keys in {k})\n"
        f"  keep OFFLINE (needed only for `keys add-scope` / `keys rotate`): {k / 'root.pem'}, {k / 'targets.pem'}\n"
        f"  needed ONLINE for publish/refresh: snapshot.pem, timestamp.pem and the scope keys\n"
        f"  never put {k} inside the served directory; next: "
        f"`{PROG} keys add-scope {args.dir} @SCOPE --author AUTHOR.pem.pub`",
    )
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    repo = _repo(args)
    published = repo.publish([Path(a) for a in args.artifacts], readme=Path(args.readme) if args.readme else None)
    site = None
    if args.site:
        from registry_static.site import build_site

        site = build_site(repo.dir)
    doc = {"published": [p.to_dict() for p in published], "site": site}
    for p in published:
        for warning in p.warnings:
            print(f"{PROG}: warning: {p.name}@{p.version}: {warning}", file=sys.stderr)
    _out(
        args,
        doc,
        "\n".join(
            f"published {p.name}@{p.version} (wasm sha256 {p.wasm_sha256[:16]}…, signed by {p.key_id[:16]}…)"
            + "".join(f"\n  permissions vs {p.permissions_diff['against']}: {line}" for line in p.permission_lines())
            for p in published
        ),
    )
    return 0


def cmd_yank(args: argparse.Namespace, undo: bool = False) -> int:
    versions = _repo(args).yank(args.name, args.version, undo=undo)
    word = "unyanked" if undo else "yanked"
    _out(args, {word: versions, "name": args.name}, f"{word} {args.name} {', '.join(versions)}")
    return 0


def cmd_deprecate(args: argparse.Namespace) -> int:
    if not args.clear and not args.message:
        raise_usage("deprecate: give --message TEXT (or --clear to remove a deprecation)")
    versions = _repo(args).deprecate(args.name, args.version, None if args.clear else args.message)
    _out(
        args,
        {"name": args.name, "versions": versions, "message": None if args.clear else args.message},
        f"{'cleared deprecation of' if args.clear else 'deprecated'} {args.name} {', '.join(versions)}",
    )
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    st = _repo(args).status()
    lines = [f"registry {st['registry']} (keys: {st['keys']})"]
    for role, r in st["roles"].items():
        here = "key here" if r["key_here"] else "key NOT here"
        lines.append(f"  {role:<20} v{r['version']:<4} expires {r['expires']}  keyid {r['keyids'][0][:16]}…  ({here})")
        for kid, label in (r.get("authors") or {}).items():
            lines.append(f"      author {kid[:16]}… {label}")
    _out(args, st, "\n".join(lines))
    return 0


def _read_pub(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        from plugin_format.errors import RegistryError

        raise RegistryError(
            f"{path}: {exc.strerror} (an author key is the .pem.pub from `extism-plugin keygen`)"
        ) from None


def cmd_keys_add_scope(args: argparse.Namespace) -> int:
    authors = [(_read_pub(a), Path(a).name.split(".")[0]) for a in args.author]
    repo = _repo(args)
    role = repo.add_scope(args.scope, authors)
    if args.private:
        repo.set_access(args.scope, True)
    doc = {
        "scope": args.scope,
        "role": role,
        "key": str(repo.keys.path(role)),
        "authors": len(authors),
        "private": bool(args.private),
    }
    _out(
        args,
        doc,
        f"created {'private ' if args.private else ''}scope {args.scope} (role {role}, key {repo.keys.path(role)}), "
        f"{len(authors)} author(s)",
    )
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    from registry_static.layout import scope_label
    from registry_static.repository import private_scopes

    repo = _repo(args)
    if args.scope:
        if args.mode is None:
            from plugin_format.errors import RegistryError

            raise RegistryError(f"access {args.scope}: say `private` or `public` after the scope")
        repo.set_access(args.scope, args.mode == "private")
    private = private_scopes(repo.config)
    doc = {"private_scopes": private, "public_scopes": [s for s in repo.scopes() if s not in private]}
    _out(
        args,
        doc,
        "private (a token must read them): "
        + (", ".join(scope_label(s) for s in private) or "none")
        + "\npublic: "
        + (", ".join(scope_label(s) for s in doc["public_scopes"]) or "none"),
    )
    return 0


def cmd_keys_add_author(args: argparse.Namespace) -> int:
    kid = _repo(args).add_author(args.scope, _read_pub(args.pubkey), args.label or Path(args.pubkey).name.split(".")[0])
    _out(args, {"scope": args.scope, "key_id": kid}, f"{args.scope}: author {kid[:16]}… may publish")
    return 0


def cmd_keys_remove_author(args: argparse.Namespace) -> int:
    kid = _repo(args).remove_author(args.scope, args.key_id)
    _out(
        args,
        {"scope": args.scope, "removed": kid},
        f"{args.scope}: author {kid[:16]}… removed (versions it signed stay installable)",
    )
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    kid = _repo(args).rotate(args.role)
    _out(
        args,
        {"role": args.role, "key_id": kid},
        f"rotated {args.role}: new key id {kid[:16]}… "
        "(the old key file is kept as *.pem.oldN; destroy it once clients have updated)",
    )
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    res = _repo(args).refresh(within_days=args.within)
    text = f"re-signed {', '.join(res['resigned'])}; timestamp now expires {res['timestamp_expires']}"
    for s in res["skipped_no_key"]:
        text += f"\n  warning: role {s} expires soon but its key is not here"
    for w in res["warnings"]:
        text += f"\n  warning: {w}"
    _out(args, res, text)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from registry_static.verify import verify_registry

    root = Path(args.root).read_bytes() if args.root else None
    rep = verify_registry(Path(args.dir), root=root)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
    else:
        print(
            f"{'OK' if rep.ok else 'FAILED'}: {rep.packages} packages, {rep.versions} versions, {rep.blobs} blobs "
            f"checked in {args.dir}"
        )
        for p in rep.problems:
            print(f"  problem: {p}")
        for w in rep.warnings:
            print(f"  warning: {w}")
    return 0 if rep.ok else 1


def cmd_site(args: argparse.Namespace) -> int:
    from registry_static.site import build_site

    res = build_site(Path(args.dir), featured=args.featured or None)
    _out(
        args,
        res,
        f"wrote {res['index']} and {res['pages']} plugin pages"
        + (f"; UNVERIFIED: {', '.join(res['unverified'])}" if res["unverified"] else ""),
    )
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    repo = _repo(args)
    changes: dict[str, Any] = {}
    if args.title is not None:
        changes["title"] = args.title
    if args.no_featured:
        changes["featured"] = []
    elif args.featured:
        known = set(repo.packages())
        missing = [n for n in args.featured if n not in known]
        if missing:
            raise _UsageError(f"--featured {missing[0]}: no such plugin in {args.dir} (publish it first)")
        changes["featured"] = list(args.featured)
    doc = repo.set_config(**changes) if changes else repo.config
    shown = {"title": repo.title, "featured": list(doc.get("featured") or [])}
    _out(args, shown, f"title: {shown['title']}\nfeatured: {', '.join(shown['featured']) or '(none)'}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from datetime import date

    from registry_static import stats

    since = None
    if args.since:
        try:
            since = date.fromisoformat(args.since)
        except ValueError:
            raise _UsageError(f"--since {args.since!r}: expected a date, YYYY-MM-DD") from None
    registry = Path(args.registry or args.write or ".")
    figures = stats.compute(registry, [Path(p) for p in args.logs], since=since)
    text = stats.table(figures)
    if args.write:
        path = stats.write_stats(Path(args.write), figures)
        text += f"\nwrote {path} (run `{PROG} site {args.write}` to show it)"
    _out(args, figures, text)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from registry_static.access_log import AccessLog
    from registry_static.layout import scope_label
    from registry_static.server import make_server

    log = AccessLog(Path(args.access_log), max_bytes=args.access_log_max_mib << 20) if args.access_log else None
    server = make_server(
        Path(args.dir),
        args.host,
        args.port,
        token=args.token,
        tokens=Path(args.tokens) if args.tokens else None,
        quiet=not args.verbose,
        access_log=log,
    )
    host, port = server.server_address[:2]
    access = server.RequestHandlerClass.access  # type: ignore[attr-defined]
    private = (
        "everything (--token)"
        if access.everything_private
        else ", ".join(scope_label(s) for s in sorted(access.private_scopes())) or "none"
    )
    print(
        f"serving {args.dir} at http://{host}:{port}/ (private: {private}; {len(access.tokens)} token(s)) "
        "(Ctrl-C to stop)",
        flush=True,
    )

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Stop cleanly on SIGTERM (service managers) and on SIGINT even when the shell that started
    # us in the background left SIGINT ignored (Python then installs no handler of its own).
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0


def _client(args: argparse.Namespace) -> Any:
    from registry_static.client import RegistryClient

    return RegistryClient(args.url, Path(args.cache) if args.cache else None, args.token)


def cmd_show(args: argparse.Namespace) -> int:
    from plugin_format.permissions import PermissionDiff

    client = _client(args)
    infos = client.versions(args.name)
    lines = [f"{args.name}"]
    for i in infos:
        flags = (" YANKED" if i.yanked else "") + (f" deprecated: {i.deprecated}" if i.deprecated else "")
        lines.append(f"  {i.version:<12} {i.published}  sha256 {i.sha256[:16]}…  {i.size:,} B{flags}")
        change = PermissionDiff.from_dict(i.permissions_diff) if i.permissions_diff else None
        if change is not None and not change.empty:
            lines.append(f"    permissions vs {i.permissions_diff['against']}: {'; '.join(change.lines())}")
    for adv in client.advisories(args.name):
        fix = f", fixed in {adv.fixed}" if adv.fixed else ", no fix yet"
        lines.append(f"  advisory {adv.id} ({adv.severity}) {adv.affected}{fix}: {adv.summary}")
    _out(args, [i.to_dict() for i in infos], "\n".join(lines))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from plugin_format.files import atomic_write

    name, _, spec = (
        args.spec.rpartition("@")
        if args.spec.count("@") > (1 if args.spec.startswith("@") else 0)
        else (args.spec, "", "*")
    )
    client = _client(args)
    info = client.resolve(name, spec or "*")
    got = client.fetch(name, info.version)
    files = {}
    if args.out:
        out = Path(args.out)
        stem = f"{name.lstrip('@').replace('/', '-')}-{got.version}"
        for suffix, data in ((".wasm", got.wasm), (".plugin.json", got.plugin_json), (".sig", got.sig)):
            atomic_write(out / f"{stem}{suffix}", data)
            files[suffix] = str(out / f"{stem}{suffix}")
    doc = {
        "name": name,
        "version": got.version,
        "sha256": got.sha256,
        "cached": str(got.path),
        "key_id": got.info.key_id,
        "files": files,
        "fetched_files": client.stats.files,
        "fetched_bytes": client.stats.bytes,
    }
    _out(
        args,
        doc,
        f"{name}@{got.version} verified (signed by {got.info.key_id[:16]}…), cached at {got.path}"
        + (f", written to {args.out}" if files else ""),
    )
    return 0


class _UsageError(Exception):
    pass


def raise_usage(message: str) -> NoReturn:
    raise _UsageError(message)


# ------------------------------------------------------------------ parser


def cmd_advisory_add(args: argparse.Namespace) -> int:
    adv = _repo(args).add_advisory(
        args.name,
        affected=args.affected,
        severity=args.severity,
        summary=args.summary,
        fixed=args.fixed,
        advisory_id=args.id,
        url=args.url,
    )
    fix = f", fixed in {adv.fixed}" if adv.fixed else ", no fixed version yet"
    _out(args, adv.to_dict(), f"published advisory {adv.id} ({adv.severity}) for {adv.package} {adv.affected}{fix}")
    return 0


def cmd_advisory_list(args: argparse.Namespace) -> int:
    from registry_static.layout import split_name

    repo = _repo(args)
    scopes = [split_name(args.name)[0]] if args.name else repo.scopes()
    found = [
        a
        for s in scopes
        for a in repo.advisories(s).advisories
        if (not args.name or a.package == args.name) and (args.all or a.withdrawn is None)
    ]
    lines = [
        f"{a.id}  {a.severity:<8} {a.package} {a.affected}  fixed: {a.fixed or '-'}  {a.summary}"
        + (f"  (withdrawn {a.withdrawn})" if a.withdrawn else "")
        for a in found
    ]
    _out(args, {"advisories": [a.to_dict() for a in found]}, "\n".join(lines) or "no advisories")
    return 0


def cmd_advisory_withdraw(args: argparse.Namespace) -> int:
    adv = _repo(args).withdraw_advisory(args.id, args.scope)
    _out(args, adv.to_dict(), f"withdrew advisory {adv.id} ({adv.package} {adv.affected})")
    return 0


def _sub(sub: Any, name: str, help_: str, description: str, key: str | None = None) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=description,
        epilog=EXAMPLES.get(key or name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole `extism-registry` command line."""
    p = _Parser(
        prog=PROG,
        description="Create, publish to, verify, browse and serve a signed static registry of "
        "Extism plugins (TUF metadata + author DSSE signatures). Serve it from any CDN, git host or "
        "file://.",
        epilog=EXAMPLES["main"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version_flag(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def dir_arg(sp: argparse.ArgumentParser, keys: bool = True) -> None:
        sp.add_argument("dir", metavar="DIR", help="the registry directory (what gets served)")
        if keys:
            sp.add_argument(
                "--keys", metavar="KEYDIR", help="key directory (default: $EXTISM_REGISTRY_KEYS or DIR.keys beside DIR)"
            )
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = _sub(
        sub,
        "init",
        "create a registry: keys, root/targets/snapshot/timestamp metadata",
        "Create a new registry in an empty DIR and its keys in KEYDIR (outside DIR). root.pem and "
        "targets.pem should then be moved offline.",
    )
    dir_arg(sp)
    sp.add_argument("--name", help="display name of the registry (site title)")
    sp.add_argument("--timestamp-days", type=float, help="timestamp.json lifetime (default 7): run `refresh` sooner")
    sp.add_argument("--snapshot-days", type=float, help="snapshot lifetime (default 30)")
    sp.add_argument("--root-days", type=float, help="root lifetime (default 365)")
    sp.set_defaults(func=cmd_init)

    sp = _sub(
        sub,
        "publish",
        "verify and add signed build artifacts",
        "Add artifacts (the .wasm, .plugin.json and .sig that a build writes; give any one of them). Each "
        "must be signed by an author key allowed in its scope; existing versions are never overwritten.",
    )
    dir_arg(sp)
    sp.add_argument(
        "artifacts", nargs="+", metavar="ARTIFACT", help="dist/<name>-<version>.wasm (or .sig / .plugin.json)"
    )
    sp.add_argument("--readme", help="README to publish with them (default: README.md beside dist/)")
    sp.add_argument("--site", action="store_true", help="regenerate the HTML site afterwards")
    sp.set_defaults(func=cmd_publish)

    for name, undo in (("yank", False), ("unyank", True)):
        sp = _sub(
            sub,
            name,
            "un-yank versions" if undo else "yank versions (kept for lockfiles, never resolved)",
            (
                "Undo a yank."
                if undo
                else "Mark versions yanked: installs from an existing lockfile still "
                "fetch them; new resolutions never choose them."
            ),
        )
        dir_arg(sp)
        sp.add_argument("name", help="plugin name, e.g. @acme/weather")
        sp.add_argument("version", help="a version or a range (e.g. 1.2.0, '<1.1')")
        sp.set_defaults(func=lambda a, u=undo: cmd_yank(a, u))

    sp = _sub(
        sub,
        "deprecate",
        "attach a deprecation message to versions",
        "Attach a message that installers show (the version still resolves).",
    )
    dir_arg(sp)
    sp.add_argument("name")
    sp.add_argument("version", help="a version or a range")
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--message", "-m", help="what users should do instead")
    g.add_argument("--clear", action="store_true", help="remove the deprecation")
    sp.set_defaults(func=cmd_deprecate)

    adv = _sub(
        sub,
        "advisory",
        "publish, list and withdraw security advisories",
        "Security advisories are signed metadata of the registry (a TUF target of the package's scope, signed "
        "by the scope's role key): clients verify them, `install`/`update` warn about affected locked "
        "versions and `extism-plugin audit` fails on them.",
    )
    asub = adv.add_subparsers(dest="advisory_command", required=True, metavar="ADVISORY_COMMAND", parser_class=_Parser)
    sp = _sub(asub, "add", "publish an advisory", "Publish an advisory about a plugin's versions.", "advisory")
    dir_arg(sp)
    sp.add_argument("name", help="plugin name, e.g. @acme/weather")
    sp.add_argument("--affected", required=True, metavar="RANGE", help="affected versions, e.g. '<1.2.1'")
    sp.add_argument("--severity", required=True, choices=("low", "moderate", "high", "critical"))
    sp.add_argument("--summary", required=True, help="one line: what is wrong")
    sp.add_argument("--fixed", metavar="VERSION", help="the first version with the fix")
    sp.add_argument("--id", help="advisory id (default: <SCOPE>-<YEAR>-<NNNN>)")
    sp.add_argument("--url", help="where the details are")
    sp.set_defaults(func=cmd_advisory_add)
    sp = _sub(asub, "list", "list advisories", "List a registry's (or one plugin's) advisories.", "advisory")
    dir_arg(sp)
    sp.add_argument("name", nargs="?", help="only this plugin's")
    sp.add_argument("--all", action="store_true", help="include withdrawn advisories")
    sp.set_defaults(func=cmd_advisory_list)
    sp = _sub(
        asub, "withdraw", "withdraw an advisory", "Mark an advisory withdrawn (it stays listed with --all).", "advisory"
    )
    dir_arg(sp)
    sp.add_argument("id", help="the advisory id")
    sp.add_argument("--scope", help="the scope it belongs to (default: search every scope)")
    sp.set_defaults(func=cmd_advisory_withdraw)

    keys = _sub(
        sub,
        "keys",
        "scopes, author keys and key rotation",
        "Manage scopes (delegated TUF roles), the author keys allowed to publish into them, and key rotation.",
    )
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="KEYS_COMMAND", parser_class=_Parser)
    sp = _sub(ksub, "list", "roles, versions, expiry, key ids, authors", "Show every role and author key.", "keys")
    dir_arg(sp)
    sp.set_defaults(func=cmd_keys_list)
    sp = _sub(
        ksub,
        "add-scope",
        "create a scope (needs the targets key)",
        "Create a scope: delegate index/<scope>/* to a new role signed by a new scope key, and allow its "
        "first authors with --author. Unscoped plugins (no @scope) live in the namespace '_', which `init` "
        "already created: allow authors there with `keys add-author DIR _ PUB`.",
        "keys",
    )
    dir_arg(sp)
    sp.add_argument("scope", help="@name (the unscoped namespace '_' exists already: use `keys add-author DIR _`)")
    sp.add_argument(
        "--author",
        action="append",
        default=[],
        metavar="PUB",
        help="author public key file (.pem.pub from `extism-plugin keygen`); repeatable",
    )
    sp.add_argument("--private", action="store_true", help="serve it only with a token (see `access`)")
    sp.set_defaults(func=cmd_keys_add_scope)
    sp = _sub(
        ksub,
        "add-author",
        "allow an author key to publish into a scope",
        "Allow one more author key in an existing scope (a scope made by `keys add-scope`, or '_', the "
        "namespace of unscoped plugins that `init` creates): the key is recorded in the scope's signed policy.",
        "keys",
    )
    dir_arg(sp)
    sp.add_argument("scope", help="@name, or _ for plugins without a scope")
    sp.add_argument("pubkey", help="the author's .pem.pub")
    sp.add_argument("--label", help="who it is (shown by `keys list`)")
    sp.set_defaults(func=cmd_keys_add_author)
    sp = _sub(
        ksub,
        "remove-author",
        "stop an author key from publishing into a scope",
        "Remove an author key from the scope's policy (what it already signed stays installable; yank it "
        "if the key was compromised).",
        "keys",
    )
    dir_arg(sp)
    sp.add_argument("scope")
    sp.add_argument("key_id", help="key id or a unique prefix of it")
    sp.set_defaults(func=cmd_keys_remove_author)
    sp = _sub(
        ksub,
        "rotate",
        "replace a role's key",
        "Replace the key of root, targets, snapshot, timestamp or a scope (@acme). Top-level roles get a "
        "new root version signed by the old root key (and the new one for root).",
        "keys",
    )
    dir_arg(sp)
    sp.add_argument("role", help="root | targets | snapshot | timestamp | @scope")
    sp.set_defaults(func=cmd_keys_rotate)

    sp = _sub(
        sub,
        "refresh",
        "re-sign timestamp and snapshot before they expire",
        "Re-sign timestamp.json and the snapshot (and, with --within, roles expiring soon). Run it "
        "regularly: clients refuse expired metadata.",
    )
    dir_arg(sp)
    sp.add_argument(
        "--within",
        type=float,
        default=0,
        metavar="DAYS",
        help="also re-sign targets/scope roles expiring within DAYS (default 0)",
    )
    sp.set_defaults(func=cmd_refresh)

    sp = _sub(
        sub,
        "verify",
        "check every file against the metadata",
        "Verify the registry as a client would: TUF metadata, every index file, every blob, every "
        "author signature. Exit code 1 when anything is wrong.",
    )
    dir_arg(sp, keys=False)
    sp.add_argument("--root", help="trusted root metadata file (default: DIR/metadata/1.root.json)")
    sp.set_defaults(func=cmd_verify)

    sp = _sub(
        sub,
        "site",
        "generate the static HTML site",
        "Write index.html (search and filters), one page per plugin and assets/ into DIR.",
    )
    dir_arg(sp, keys=False)
    sp.add_argument(
        "--featured",
        action="append",
        metavar="NAME",
        help="plugins for the featured section (default: registry.json 'featured', else the newest)",
    )
    sp.set_defaults(func=cmd_site)

    sp = _sub(
        sub,
        "serve",
        "serve DIR over HTTP (ETag / If-None-Match)",
        "A plain static server for local use and tests. Production: any static host or CDN.",
    )
    sp.add_argument("dir", metavar="DIR")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    auth = sp.add_mutually_exclusive_group()
    auth.add_argument(
        "--tokens",
        metavar="FILE",
        help="YAML: tokens (or their sha256) → the scopes they may read (README: Private registries)",
    )
    auth.add_argument("--token", help="shorthand: the whole directory private to this one bearer token")
    sp.add_argument("--verbose", "-v", action="store_true", help="log requests")
    sp.add_argument(
        "--access-log",
        metavar="FILE",
        help="append one JSON line per request (time, method, path, status, bytes; no IPs, no user agents)",
    )
    sp.add_argument(
        "--access-log-max-mib",
        type=int,
        default=16,
        metavar="N",
        help="rotate the access log past N MiB to FILE.1 … FILE.4 (default 16)",
    )
    sp.set_defaults(func=cmd_serve)

    sp = _sub(
        sub,
        "access",
        "list private scopes, or make a scope private/public",
        "A private scope's TUF role, index files, blobs and pages are served only with a token that may "
        "read it (`serve --tokens`); the site lists only public scopes to anonymous visitors.",
    )
    dir_arg(sp, keys=False)
    sp.add_argument("scope", nargs="?", help="@name (or _ for unscoped packages)")
    sp.add_argument("mode", nargs="?", choices=("private", "public"))
    sp.set_defaults(func=cmd_access)

    sp = _sub(
        sub,
        "config",
        "set the site's title and showcase",
        "Show or change registry.json settings: the site's title and its featured plugins.",
    )
    dir_arg(sp, keys=False)
    sp.add_argument("--title", help="the site's title (default: 'Extism plugins')")
    sp.add_argument("--featured", action="append", metavar="NAME", help="a plugin to feature (repeat, in order)")
    sp.add_argument("--no-featured", action="store_true", help="no showcase")
    sp.set_defaults(func=cmd_config)

    sp = _sub(
        sub,
        "stats",
        "downloads per plugin, version and day, from access logs",
        "Count wasm blob downloads (GET answered 2xx; HEAD, 304 and errors are not downloads) in access logs "
        "(serve --access-log JSON lines, or the nginx/Apache/CDN combined format, .gz too) and map them to "
        "plugins and versions through the registry's index. No IPs or user agents are kept.",
    )
    sp.add_argument("logs", nargs="+", metavar="LOG")
    sp.add_argument("--registry", metavar="DIR", help="the registry directory (default: --write's DIR, else .)")
    sp.add_argument("--since", metavar="YYYY-MM-DD", help="only requests on or after this day (UTC)")
    sp.add_argument("--write", metavar="DIR", help="store the figures in DIR/stats/downloads.json for the site")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_stats)

    for name, help_, desc in (
        (
            "show",
            "list a plugin's versions (client side, verified)",
            "Read a plugin's index file through TUF from URL (https://, http://, file:// or a path).",
        ),
        (
            "fetch",
            "resolve, download and verify a plugin",
            "Resolve NAME@RANGE, download and verify it (TUF + author signature) into the cache, optionally "
            "copying the three files to --out.",
        ),
    ):
        sp = _sub(sub, name, help_, desc)
        sp.add_argument("url", metavar="URL")
        sp.add_argument("name" if name == "show" else "spec", metavar="NAME" if name == "show" else "NAME[@RANGE]")
        sp.add_argument("--cache", help="cache directory (default: $EXTISM_PLATFORM_CACHE or ~/.cache/extism-platform)")
        sp.add_argument("--token", help="bearer token (default: $EXTISM_REGISTRY_TOKEN_<HOST>, then the login store)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "fetch":
            sp.add_argument("--out", help="also write the .wasm/.plugin.json/.sig here")
            sp.set_defaults(func=cmd_fetch)
        else:
            sp.set_defaults(func=cmd_show)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `extism-registry` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run_command(PROG, lambda: args.func(args), one_line=True)
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
