"""The distribute side: a signed static plugin registry (TUF metadata + author DSSE signatures).

Public API (see FORMAT.md for the on-disk format):

- `registry_static.client.RegistryClient(url, cache_dir=None, token=None)` → `.versions(name)`,
  `.resolve(name, range_spec)`, `.fetch(name, version)`; `VersionInfo`, `FetchedPlugin`.
- versions and ranges: `plugin_format.semver` (the core), shared with the build side.
- `registry_static.repository.Repository`: `init`, `publish`, `publish_bytes`, `yank`, `deprecate`,
  `add_scope`, `add_author`, `remove_author`, `rotate`, `refresh`.
- `registry_static.site.build_site`, `registry_static.verify.verify_registry`,
  `registry_static.server.make_server` / `BackgroundServer`.
- Consumer side (see LOCKFILE.md): `project.load_project` (extism.yaml), `resolver.Resolver`,
  `lockfile.Lockfile` / `read_lock` / `differences`, `install.install` (→ `Installation.write()`),
  `cache.read_blob` / `read_key`; `install(..., offline=True)` reads only the cache (`offline.CachedMetadata`
  re-verifies the cached TUF state).
- Package-manager queries and edits over the lock + client: `outdated.outdated` / `update`,
  `remove.remove`, `tree.list_plugins` / `tree` / `why`, `search.search` / `info`,
  `cache.cache_listing` / `verify_cache` / `clean_cache`.
- `extism-registry` command line: `registry_static.cli:main`.
"""
