"""The cross-language conformance suite: one spec (`spec.yaml`), one runner, every PDK."""

from conformance.spec import Case, Spec, SpecError, load_spec

__all__ = ["Case", "Spec", "SpecError", "load_spec"]
