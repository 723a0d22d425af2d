"""`extism-plugin login [REGISTRY]` / `logout [REGISTRY]`: the per-registry token store.

The store (`registry_static.credentials`) is one 0600 file under the config directory, written
atomically; environment variables still win over it. The token is read from stdin (`--token-stdin`, or
whenever stdin is not a terminal) or typed at a hidden prompt — never taken from the command line, where
`ps` and shell history would show it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from plugin_format.errors import ProjectError, RegistryError

EXAMPLES = {
    "login": """examples:
  extism-plugin login https://plugins.acme.example          # prompts for the token (hidden)
  printf %s "$ACME_TOKEN" | extism-plugin login https://plugins.acme.example --token-stdin
  extism-plugin login acme                                   # a name from extism.yaml's registries
  extism-plugin login                                        # extism.yaml's default registry
""",
    "logout": """examples:
  extism-plugin logout https://plugins.acme.example
  extism-plugin logout acme --json
""",
}


def registry_url(spec: str | None, project: str) -> str:
    """The normalized registry URL (no credentials) that `spec` names: a URL or path, a name of
    extism.yaml's `registries:`, or (None) extism.yaml's default registry."""
    from registry_static.client import normalize_url
    from registry_static.project import DEFAULT_REGISTRY, load_project
    from registry_static.redact import split_credentials

    path = Path(project)
    if spec is None or ("://" not in spec and "/" not in spec and path.is_file()):
        if not path.is_file():
            raise ProjectError(f"{path}: not found; name the registry: `extism-plugin login https://…`")
        proj = load_project(path)
        name = spec or DEFAULT_REGISTRY
        if name not in proj.registries:
            if spec is None:
                raise ProjectError(
                    f"{path.name}: no `{DEFAULT_REGISTRY}` registry; say which: `extism-plugin login URL`"
                )
            raise ProjectError(f"{path.name}: registries has no {name!r} (have: {', '.join(proj.registries)})")
        return proj.registries[name].url
    if "://" not in spec:
        raise RegistryError(f"{spec!r}: give the registry's URL (https://…) or a name from extism.yaml's registries")
    return split_credentials(normalize_url(spec))[0]


def _read_token(args: argparse.Namespace, url: str) -> str:
    if args.token_stdin or not sys.stdin.isatty():
        token = sys.stdin.readline()
    else:
        token = getpass.getpass(f"token for {url}: ")
    token = token.strip()
    if not token:
        raise RegistryError("no token given (paste it at the prompt, or pipe it with --token-stdin)")
    return token


def cmd_login(args: argparse.Namespace) -> int:
    from registry_static.credentials import login

    url = registry_url(args.registry, args.project)
    path = login(url, _read_token(args, url))
    doc = {"registry": url, "store": str(path)}
    print(json.dumps(doc, indent=2) if args.json else f"logged in to {url} (token stored in {path}, mode 0600)")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from registry_static.credentials import logout, store_path

    url = registry_url(args.registry, args.project)
    removed = logout(url)
    doc = {"registry": url, "removed": removed, "store": str(store_path())}
    text = f"logged out of {url}" if removed else f"no token stored for {url}"
    print(json.dumps(doc, indent=2) if args.json else text)
    return 0


def register_login_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `login` and `logout` to `extism-plugin`'s subparsers (each sets `func(args) -> int`)."""
    for name, help_text, func in (
        ("login", "store a registry's token (0600 file; env vars still win)", cmd_login),
        ("logout", "forget a registry's stored token", cmd_logout),
    ):
        p = subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "registry",
            nargs="?",
            metavar="REGISTRY",
            help="the registry's URL, or a name from extism.yaml's registries (default: its `default`)",
        )
        p.add_argument("--project", default="extism.yaml", metavar="extism.yaml", help="default: ./extism.yaml")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "login":
            p.add_argument("--token-stdin", action="store_true", help="read the token from stdin (one line)")
        p.set_defaults(func=func)
