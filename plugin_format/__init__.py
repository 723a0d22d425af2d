"""The plugin format: what a plugin is, independent of how it is built, published or run.

| module | what |
|---|---|
| `manifest` (+ `schema/plugin.schema.json`) | plugin.yaml / plugin.json: load, validate, the typed model |
| `names` | plugin names: the one validator and the one fold |
| `semver` | versions, ranges, bumps (the registry's resolver and `hatch version` use it) |
| `signing` | Ed25519 keys, DSSE envelopes, the one signing-key lookup |
| `artifact` | the three files of a built plugin and their verification |
| `wasm` | reading a module's imports/exports; the import audit against plugin.yaml |
| `host_functions` | the catalogue of `extism:host/user` functions |
| `paths` | where the platform keeps things (XDG) |
| `files` | atomic writes |
| `errors` | every error type, and the CLI error runner |
| `extism_sdk` | the one place that imports the `extism` SDK |

This package imports none of the platform's other packages (the tests hold it to that).
"""
