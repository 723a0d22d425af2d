"""`extism-mcp-server` — serve Extism plugins as MCP tools (stdio by default, or streamable HTTP).

`--watch` is for plugin authors: the `--dist` directories (and `--project`'s extism.yaml and
extism.lock, and the `--config` grants file) are polled, and when they change the plugins are loaded
again — signatures verified exactly as at start-up — and swapped in while the server keeps running;
connected clients get `notifications/tools/list_changed`. A build that fails verification is
reported on stderr and the previous plugins keep serving. Plugins from `--installed` and
`--registry` are loaded once, at start-up.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from plugin_format.cli import add_version_flag
from plugin_format.errors import ExtismPlatformError, run_command

EXAMPLES = """examples:
  extism-mcp-server --dist dist/ --grant '@acme/weather:host=api.weather.example'
  extism-mcp-server --dist dist/ --allow-unsigned --watch     # reload (and tell clients) on each rebuild
  extism-mcp-server --dist dist/ --config extism.yaml --http 127.0.0.1:8765      # token: $EXTISM_MCP_TOKEN
  extism-mcp-server --registry https://plugins.example.com --plugin '@acme/weather@^1.2' --config extism.yaml
  extism-mcp-server --registry https://plugins.example.com --allow '@acme/*'   # discovery: the agent searches,
                                                         # describes, enables what you allow; you grant
  extism-mcp-server --project extism.yaml                  # extism.lock's plugins from the cache, its grants
  extism-mcp-server --installed --only 'acme_*' --list --json                       # the tools, then exit
  extism-mcp-server --dist dist/ --http 127.0.0.1:8765 --workers 4 --kv redis://127.0.0.1:6379/0
  extism-mcp-server --dist dist/ --http 10.0.0.1:8765 --replica a --kv redis://10.0.0.9:6379/0   # replicas
                                    # behind any balancer: 2025 sessions follow their replica (no stickiness)
grants (default deny; the plugin must also ask for it in plugin.yaml):
  --grant PLUGIN:host=H | path=DIR[:rw] | config.KEY=VALUE | host_function=kv | memory_mib=N | timeout_ms=N
  --grant PLUGIN:http_response_headers=true   (it reads its HTTP responses' headers)
  --grant PLUGIN:requested   (everything it asks for; config values still needed)   PLUGIN may be '*'
"""
TOKEN_ENV = "EXTISM_MCP_TOKEN"


def _registry_token_env(args: argparse.Namespace) -> dict[str, Any]:
    """`--registry-token-env VAR` for the registry client (`registry_static.credentials`): $VAR first,
    then its usual fallbacks; an unset VAR is named in the registry's 401 hint, as this flag."""
    var = args.registry_token_env
    return {"token_env": var, "token_env_label": f"--registry-token-env {var}"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="extism-mcp-server",
        description="Serve Extism plugins as MCP tools: one tool per export with an input schema, run in the "
        "Extism sandbox with the capabilities you grant, every call in the audit log.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version_flag(p)
    src = p.add_argument_group("plugin sources (any combination)")
    src.add_argument(
        "--dist",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a build output directory (<name>-<version>.wasm/.plugin.json/.sig)",
    )
    src.add_argument(
        "--installed",
        action="store_true",
        help="plugins from installed wheels (entry point group extism_platform.plugins)",
    )
    src.add_argument(
        "--project",
        type=Path,
        metavar="extism.yaml",
        help="serve exactly what its extism.lock pins (from the cache, verified again), with its grants",
    )
    src.add_argument(
        "--registry",
        metavar="URL",
        help="a static registry: serve its --plugin pins; without --plugin (or with --allow) also discovery "
        "tools to search it and enable what the allow-list permits",
    )
    src.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="NAME@RANGE",
        help="a plugin to fetch from --registry, e.g. '@acme/weather@^1.2', or an OCI artifact "
        "oci://host/repo:TAG or oci://host/repo@sha256:DIGEST (no --registry needed; its signature must "
        "verify against --trust-key or $EXTISM_TRUSTED_KEYS) (repeatable)",
    )
    src.add_argument("--registry-token-env", metavar="VAR", help="read the registry's bearer token from $VAR")
    src.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PATTERN",
        help="with --registry: plugins an agent may enable (glob, optional range: '@acme/*', "
        "'@acme/weather@^1'; repeatable; default none beyond the pins)",
    )
    trust = p.add_argument_group("trust")
    trust.add_argument(
        "--trust-key",
        action="append",
        default=[],
        metavar="PEM",
        help="accept only artifacts signed by this Ed25519 public key (file; repeatable)",
    )
    trust.add_argument("--allow-unsigned", action="store_true", help="also load unsigned builds (development)")
    grants = p.add_argument_group("grants")
    grants.add_argument(
        "--config",
        type=Path,
        metavar="extism.yaml",
        help="read grants: from this file (with --registry also allow: and plugins:; default there: "
        "the user's extism.yaml in the platform config dir, $EXTISM_PLATFORM_CONFIG)",
    )
    grants.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="PLUGIN:KEY=VALUE",
        help="grant one capability (repeatable; see below)",
    )
    tools = p.add_argument_group("tools")
    tools.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="serve only tools whose name or plugin matches (glob; repeatable)",
    )
    tools.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out tools whose name or plugin matches (glob; repeatable)",
    )
    tools.add_argument("--list", action="store_true", help="print the tools and exit")
    tools.add_argument("--json", action="store_true", help="with --list: machine-readable")
    run = p.add_argument_group("serving")
    run.add_argument(
        "--http", metavar="HOST:PORT", help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio"
    )
    run.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        metavar="VAR",
        help=f"with --http: require this bearer token, read from $VAR (default {TOKEN_ENV}; unset = no auth)",
    )
    run.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="with --http on a non-loopback address: serve without a bearer token (anyone who can reach "
        "the address can call every tool)",
    )
    run.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="with --http on a non-loopback address: a browser origin allowed to call (repeatable; default none)",
    )
    run.add_argument(
        "--audit-log",
        type=Path,
        metavar="PATH",
        help="append audit records here (default $EXTISM_AUDIT_LOG or <state dir>/audit.jsonl)",
    )
    run.add_argument("--no-audit", action="store_true", help="do not write an audit log")
    run.add_argument("--state-dir", type=Path, metavar="DIR", help="where the kv store lives (default: state dir)")
    run.add_argument(
        "--kv",
        metavar="URL",
        help="the kv host functions' store: redis://[:PASSWORD@]HOST:PORT/DB (shared by replicas), rediss://…, "
        "or sqlite:///PATH (default $EXTISM_KV_URL, else extism.yaml's kv:, else sqlite in the state dir)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --http: N server processes behind the one port (every core for CPU-bound tools; "
        "2025-era sessions are routed to the worker that holds them)",
    )
    run.add_argument(
        "--replica",
        metavar="ID",
        help="with --http: this replica's id (a-z, 0-9, -), one of several behind a load balancer; 2025-era "
        "sessions carry it and are forwarded to it from the others (a Redis kv store doubles as the directory)",
    )
    run.add_argument(
        "--advertise",
        metavar="URL",
        help="with --replica: where the other replicas reach this one's MCP endpoint "
        "(default http://HOST:PORT/mcp of --http, unless HOST is a wildcard)",
    )
    run.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="ID=URL",
        help="with --replica: another replica's MCP endpoint (repeatable; instead of, or beside, Redis registrations)",
    )
    run.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST=URL",
        help="send a host's HTTP requests to URL instead (a loopback stand-in; the grant still "
        "applies to HOST), e.g. api.weather.example=http://127.0.0.1:8123",
    )
    run.add_argument("--warm", action="store_true", help="compile every plugin at start instead of on first use")
    run.add_argument(
        "--watch",
        action="store_true",
        help="poll --dist / --project / --config for changes; reload the plugins (verified as at start) "
        "and send clients tools/list_changed",
    )
    run.add_argument(
        "--watch-interval",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="with --watch: how often to poll (default 0.5; a change is loaded once it held still for a poll)",
    )
    run.add_argument("--max-concurrency", type=int, default=8, metavar="N", help="calls running at once (default 8)")
    run.add_argument("--verbose", "-v", action="store_true", help="log to stderr at debug level")
    return p


def _parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ExtismPlatformError(f"--http {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def _resolve_map(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        host, eq, url = item.partition("=")
        if not eq or not host or not url.startswith(("http://", "https://")):
            raise ExtismPlatformError(
                f"--resolve {item!r}: expected HOST=URL, e.g. api.weather.example=http://127.0.0.1:8123"
            )
        out[host.lower()] = url
    return out


def _load_project(path: Path) -> Any:
    """extism.yaml, refused when its extism.lock is missing or no longer satisfies it (serving a stale lock
    would run other versions than the file asks for)."""
    from registry_static.lockfile import differences, read_lock  # noqa: PLC0415
    from registry_static.project import load_project

    project = load_project(path)
    lock = read_lock(project.lock_path)
    if lock is None:
        raise ExtismPlatformError(f"{project.lock_path}: not found (run `extism-plugin install` first)")
    problems = differences(project, lock)
    if problems:
        raise ExtismPlatformError(
            f"{project.lock_path.name} does not satisfy {project.path.name} (run `extism-plugin install`): "
            + "; ".join(problems)
        )
    return project


def _keys(args: argparse.Namespace) -> list[Any]:
    from plugin_format.signing import load_public_key  # noqa: PLC0415

    return [load_public_key(k) for k in args.trust_key]


def discovery_mode(args: argparse.Namespace) -> bool:
    """`--registry` without pins, or with an allow-list: serve the discovery tools too."""
    return bool(args.registry) and (not args.plugin or bool(args.allow))


def user_config(args: argparse.Namespace) -> Any:
    """With --registry: `--config`'s extism.yaml, else the user's own (`<config dir>/extism.yaml`) when it
    exists — where the brief's bare `--registry URL` server finds its grants, allow-list and pins."""
    if not args.registry:
        return None
    from plugin_format.paths import config_dir  # noqa: PLC0415
    from registry_static.project import load_project

    path = args.config or (config_dir() / "extism.yaml")
    return load_project(path) if args.config or path.is_file() else None


def _grants(args: argparse.Namespace, project: Any) -> dict[str, Any]:
    from extism_platform.grants import combine, grants_from_options, grants_from_project, load_grants  # noqa: PLC0415

    user = user_config(args) if not args.config else None
    file_grants = load_grants(args.config) if args.config else {}
    if user is not None:
        file_grants = grants_from_project(user.grants, str(user.path))
    project_grants = grants_from_project(project.grants, project.path.name) if project else {}
    return combine(project_grants, file_grants, grants_from_options(args.grant))


def _watchable_artifacts(args: argparse.Namespace, keys: list[Any], project: Any) -> list[Any]:
    """The plugins of the sources --watch polls: the --dist directories, then the project's lock."""
    from extism_platform.host import sources  # noqa: PLC0415

    out = []
    for d in args.dist:
        out.extend(sources.from_dist(d, keys=keys, allow_unsigned=args.allow_unsigned, keep_wasm=args.watch))
    if project is not None:
        out.extend(sources.from_lock(project.lock_path))
    return out


def build_host(args: argparse.Namespace) -> Any:
    """Sources, grants, audit log and kv store from the parsed options → a loaded `Host`."""
    from extism_platform.audit import AuditLog  # noqa: PLC0415 - keep `--help` fast
    from extism_platform.audit import load_key as load_audit_key
    from extism_platform.host import sources
    from extism_platform.host.http import HttpSettings
    from extism_platform.host.kv import open_kv
    from extism_platform.host.runtime import POOL_MAX_IDLE, Host
    from plugin_format.paths import default_audit_log, default_kv_path

    oci = oci_plugins(args)
    if not (args.dist or args.installed or args.registry or args.project or oci):
        raise ExtismPlatformError(
            "no plugins: give --dist DIR, --installed, --project extism.yaml, or --registry URL --plugin NAME@RANGE"
        )
    if args.allow and not args.registry:
        raise ExtismPlatformError("--allow PATTERN needs --registry URL (it says what an agent may enable from it)")
    if len(oci) < len(args.plugin) and not args.registry:
        raise ExtismPlatformError("--plugin NAME@RANGE needs --registry URL (or give oci://host/repo:TAG)")
    if args.watch and not (args.dist or args.project):
        raise ExtismPlatformError("--watch needs --dist DIR or --project extism.yaml (the sources it polls)")
    if args.watch_interval < 0.05:
        raise ExtismPlatformError(f"--watch-interval {args.watch_interval}: give at least 0.05 seconds")
    keys = _keys(args)
    project = _load_project(args.project) if args.project else None
    grants = _grants(args, project)
    # The key makes the log's head tamper-evident; it lives outside the log's directory by default.
    audit = (
        AuditLog(None)
        if args.no_audit
        else AuditLog(
            args.audit_log or default_audit_log(),
            key=load_audit_key((args.state_dir / "audit.key") if args.state_dir else None, create=True),
        )
    )
    user = user_config(args)
    kv = open_kv(kv_url(args, project, user), (args.state_dir / "kv.sqlite3") if args.state_dir else default_kv_path())
    resolve = {**(user.resolve if user is not None else {}), **_resolve_map(args.resolve)}
    # One compiled module per call running at once is kept (each call needs an engine of its own).
    pool = max(POOL_MAX_IDLE, args.max_concurrency)
    host = Host(grants=grants, audit=audit, kv=kv, http=HttpSettings(resolve=resolve), pool_size=pool)
    host.add_all(_watchable_artifacts(args, keys, project))
    if args.installed:
        host.add_all(sources.from_installed(keys=keys, allow_unsigned=args.allow_unsigned))
    if oci:
        host.add_all(sources.from_oci(oci, keys=keys))
    pins = registry_pins(args)
    if pins:
        host.add_all(
            sources.from_registry(
                args.registry,
                [f"{n}@{r}" for n, r in pins.items()],
                **_registry_token_env(args),
                keys=keys,
                allow_unsigned=args.allow_unsigned,
            )
        )
    unknown = sorted(set(grants) - set(host.plugins) - {"*"})
    for name in unknown:
        logging.getLogger("extism_platform").warning("grant for %s: no such plugin is loaded", name)
    if args.warm:
        for plugin in host.plugins.values():
            plugin.warm()
    return host


def kv_url(args: argparse.Namespace, project: Any, user: Any) -> str | None:
    """The kv store's URL (`host.kv.choose_kv_url`): --kv, else $EXTISM_KV_URL, else `kv:` of the
    --config / user / --project extism.yaml; None: the embedded sqlite file."""
    from extism_platform.host.kv import choose_kv_url  # noqa: PLC0415

    config = user
    if config is None and args.config and not args.kv:
        from registry_static.project import load_project  # noqa: PLC0415 - only with a config file

        config = load_project(args.config)
    return choose_kv_url(args.kv, config, project)


def oci_plugins(args: argparse.Namespace) -> list[str]:
    """The `--plugin`s that name OCI artifacts (`oci://…`), loaded without --registry."""
    return [p for p in args.plugin if p.lower().startswith("oci://")]


def registry_pins(args: argparse.Namespace) -> dict[str, str]:
    """name → range of what to load from --registry at start: `--plugin`s, then the user file's `plugins:`
    that come from that registry."""
    from extism_platform.host.sources import parse_spec  # noqa: PLC0415

    pins = dict(parse_spec(p) for p in args.plugin if p not in oci_plugins(args))
    user = user_config(args)
    if user is not None:
        from registry_static.client import normalize_url  # noqa: PLC0415

        here = normalize_url(args.registry)
        for name, wanted in user.plugins.items():  # those the file takes from this registry
            if wanted.oci is None and normalize_url(user.registries[wanted.registry].url) == here:
                pins.setdefault(name, wanted.spec)
    return pins


def build_discovery(args: argparse.Namespace) -> Any:
    """The discovery tools' state (`--registry` without `--plugin`, or with `--allow`), else None."""
    if not discovery_mode(args):
        return None
    from extism_platform.mcp.discovery import discovery_from_args  # noqa: PLC0415

    user = user_config(args)
    allow = [*args.allow, *(user.allow if user is not None else ())]
    return discovery_from_args(
        args.registry,
        allow=allow,
        pinned=registry_pins(args),
        **_registry_token_env(args),
        keys=_keys(args),
        allow_unsigned=args.allow_unsigned,
    )


def build_watched(args: argparse.Namespace, host: Any) -> Any:
    """What --watch polls, and how it loads the plugins again: the same source functions, keys and
    --allow-unsigned as at start-up (so the same verification), the project and grants read again;
    the plugins from --installed and --registry, loaded once, are kept as they are."""
    from extism_platform.host.watch import Watched  # noqa: PLC0415

    keys = _keys(args)
    static = [p.artifact for p in host.plugins.values() if not p.artifact.source.startswith(("dist:", "lock:"))]
    project = _load_project(args.project) if args.project else None

    def load() -> tuple[dict[str, Any], list[Any]]:
        project = _load_project(args.project) if args.project else None
        return _grants(args, project), [*_watchable_artifacts(args, keys, project), *static]

    files = [project.path, project.lock_path] if project is not None else []
    if args.config:
        files.append(args.config)
    return Watched(dirs=list(args.dist), files=files, load=load)


def _print_tools(server: Any, as_json: bool) -> None:
    tools = server.mcp_tools()
    if as_json:
        doc = {
            "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
            "plugins": server.describe_plugins(),
        }
        print(json.dumps(doc, indent=2))
        return
    for t in tools:
        print(f"{t.name:<40} {t.description or ''}")
    for p in server.describe_plugins():
        denied = ", ".join(f"{d['capability']} {d['value']}" for d in p["denied"])
        print(
            f"# {p['name']} {p['version']} ({'signed' if p['signed'] else 'UNSIGNED'}) "
            f"effective: hosts={p['effective']['hosts']} config={p['effective']['config']} "
            f"host_functions={p['effective']['host_functions']}" + (f"; denied: {denied}" if denied else "")
        )


def _replica_options(args: argparse.Namespace) -> dict[str, str] | None:
    """`--replica` / `--advertise` / `--peer` checked before anything loads; the static peers, or
    None when this server is not a replica."""
    from extism_platform.mcp import replicas  # noqa: PLC0415

    if args.replica is None:
        if args.advertise or args.peer:
            raise ExtismPlatformError("--advertise and --peer need --replica ID (the name of this replica)")
        return None
    if not args.http:
        raise ExtismPlatformError("--replica ID needs --http HOST:PORT (replicas sit behind an HTTP load balancer)")
    replicas.check_replica_id(args.replica)
    if args.advertise:
        replicas.check_endpoint(args.advertise, "--advertise")
    peers = replicas.parse_peers(args.peer)
    if args.replica in peers:
        raise ExtismPlatformError(f"--peer {args.replica}=…: that is this replica's own id (--replica)")
    return peers


def _replica_directory(args: argparse.Namespace, peers: dict[str, str], host: Any, bind: str, port: int) -> Any:
    """The directory of the other replicas: the static peers, and Redis when the kv store is there
    (this replica registers its endpoint in it, renewed while it serves)."""
    from extism_platform.host.kv import RedisKVStore  # noqa: PLC0415
    from extism_platform.mcp.replicas import ReplicaDirectory  # noqa: PLC0415

    store = host.kv if isinstance(host.kv, RedisKVStore) else None
    directory = ReplicaDirectory(args.replica, peers, store)
    if store is None:
        if not peers:
            logging.getLogger("extism_platform").warning(
                "--replica %s: no --peer and no Redis kv store, so sessions of other replicas cannot be forwarded",
                args.replica,
            )
        return directory
    advertise = args.advertise
    if advertise is None:
        if bind in ("0.0.0.0", "::", "[::]", ""):
            raise ExtismPlatformError(
                f"--replica {args.replica} --http {args.http}: give --advertise URL, the address the other "
                "replicas reach this one at (a wildcard bind address is not one)"
            )
        advertise = f"http://{'[' + bind + ']' if ':' in bind else bind}:{port}/mcp"
    directory.register(advertise)
    return directory


def _supervise(args: argparse.Namespace) -> int:
    """`--workers N` (N > 1): start N worker processes behind the one port (`mcp.workers`)."""
    from extism_platform.mcp.workers import supervise  # noqa: PLC0415

    if not args.http:
        raise ExtismPlatformError("--workers N needs --http HOST:PORT (stdio is one client, one process)")
    if args.watch:
        raise ExtismPlatformError("--workers N with --watch: run one worker while developing (drop --workers)")
    bind, port = _parse_hostport(args.http)
    argv = [sys.executable, "-m", "extism_platform.cli.mcp_server", *args.argv]
    return supervise(bind, port, args.workers, argv, lambda text: print(f"extism-mcp-server: {text}", file=sys.stderr))


#: how long the cyclic garbage collector stays off once serving started (see `main`)
GC_AFTER_START_S = 2.0


async def _collecting_after_start(serve: Any) -> None:
    """`serve()`, with the garbage collector back on GC_AFTER_START_S after it started: the
    objects made at start-up (modules, the SDK's pydantic models) are frozen out of every later
    collection, and the first requests' own imports (jsonschema, libextism) ran without it too."""
    import gc  # noqa: PLC0415

    import anyio  # noqa: PLC0415

    async def collect_again() -> None:
        await anyio.sleep(GC_AFTER_START_S)
        gc.freeze()
        gc.enable()

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect_again)
        await serve()
        tg.cancel_scope.cancel()


def _loop_options() -> dict[str, Any]:
    """asyncio on uvloop when it is installed (a dependency on Linux and macOS): measured ~5% less
    server CPU per HTTP `tools/call` than asyncio's own loop. `EXTISM_MCP_LOOP=asyncio` picks that."""
    if os.environ.get("EXTISM_MCP_LOOP") == "asyncio":
        return {}
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:
        return {}
    return {"use_uvloop": True}


def run(args: argparse.Namespace) -> int:
    import anyio  # noqa: PLC0415

    from extism_platform.mcp.http_gates import is_loopback
    from extism_platform.mcp.server import ExtismMCPServer

    if args.workers < 1:
        raise ExtismPlatformError(f"--workers {args.workers}: give at least 1")
    replicas = _replica_options(args)
    slot = None
    if args.workers > 1:
        from extism_platform.mcp.workers import WorkerSlot  # noqa: PLC0415

        slot = WorkerSlot.from_env()
        if slot is None and not args.list:
            return _supervise(args)
    host = build_host(args)
    server = ExtismMCPServer(
        host,
        only=args.only or None,
        skip=args.skip or None,
        max_concurrency=args.max_concurrency,
        transport="http" if args.http else "stdio",
        watched=build_watched(args, host) if args.watch and not args.list else None,
        watch_interval=args.watch_interval,
        discovery=build_discovery(args),
    )
    if args.list:
        _print_tools(server, args.json)
        return 0
    if not server.tools:
        logging.getLogger("extism_platform").warning("no plugin tools to serve (exports need an input_schema)")
    if args.http:
        bind, port = _parse_hostport(args.http)
        token = os.environ.get(args.token_env) or None
        if not token and not is_loopback(bind):
            if not args.insecure_no_auth:
                raise ExtismPlatformError(
                    f"--http {args.http}: refusing to serve a non-loopback address without a bearer token "
                    f"(set ${args.token_env}, or pass --insecure-no-auth to let anyone who reaches it call every tool)"
                )
            logging.getLogger("extism_platform").warning(
                "serving %s without a bearer token (--insecure-no-auth): anyone who can reach it can call every tool",
                args.http,
            )
        who = f"worker {slot.index} (pid {os.getpid()}): " if slot is not None else ""
        print(
            f"extism-mcp-server: {who}serving {len(server.tools)} tool(s) at "
            f"http://{bind}:{slot.port if slot is not None else port}/mcp"
            + (" (bearer token required)" if token else "")
            + (" (watching for changes)" if server.watched else ""),
            file=sys.stderr,
            flush=True,
        )
        wrap: Any = None
        if slot is not None or replicas is not None:
            from extism_platform.mcp.workers import SessionRouter  # noqa: PLC0415

            index, peers = (slot.index, slot.peers) if slot is not None else (0, {})
            directory = None
            if replicas is not None:
                directory = _replica_directory(args, replicas, host, bind, slot.port if slot is not None else port)
            wrap = partial(SessionRouter, index=index, peers=peers, replica=args.replica, directory=directory)

        if slot is None:
            anyio.run(
                _collecting_after_start,
                lambda: server.serve_http(bind, port, token=token, allowed_origins=args.allow_origin, wrap=wrap),
                backend_options=_loop_options(),
            )
        else:
            sockets = slot.sockets(bind)
            anyio.run(
                _collecting_after_start,
                lambda: server.serve_http(
                    bind,
                    slot.port,
                    token=token,
                    allowed_origins=args.allow_origin,
                    sockets=sockets,
                    wrap=wrap,
                    started=slot.announce_ready,
                ),
                backend_options=_loop_options(),
            )
    else:
        anyio.run(_collecting_after_start, server.serve_stdio)
    return 0


def main(argv: list[str] | None = None) -> int:
    import gc  # noqa: PLC0415

    # No cyclic garbage collection while starting: importing the MCP SDK makes hundreds of
    # thousands of objects, and collections over them were ~12% of the time to the first
    # `tools/list` (measured; `nox -s bench`). Reference counting still frees what is dropped;
    # serving turns the collector back on (`_collecting_after_start`).
    gc.disable()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `--workers` starts copies of this command line
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="extism-mcp-server: %(levelname)s: %(message)s",
    )
    if args.watch:  # say what was reloaded (and what was not) without --verbose
        logging.getLogger("extism_platform.mcp.watch").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    return run_command("extism-mcp-server", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
