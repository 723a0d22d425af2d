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
  `cache.read_blob` / `read_key`.
- `extism-registry` command line: `registry_static.cli:main`.
"""
