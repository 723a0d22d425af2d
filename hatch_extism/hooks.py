"""Registers the `extism` build and metadata hooks with Hatch (entry point group `hatch`)."""

from hatchling.plugin import hookimpl

from hatch_extism.build_hook import ExtismBuildHook
from hatch_extism.metadata_hook import ExtismMetadataHook
from hatch_extism.version_source import ExtismVersionScheme, ExtismVersionSource


@hookimpl
def hatch_register_build_hook():
    return ExtismBuildHook


@hookimpl
def hatch_register_metadata_hook():
    return ExtismMetadataHook


@hookimpl
def hatch_register_version_source():
    return ExtismVersionSource


@hookimpl
def hatch_register_version_scheme():
    return ExtismVersionScheme
