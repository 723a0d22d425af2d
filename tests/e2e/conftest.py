"""End-to-end tests (real Mastra from npm, node >= 22.13): skipped unless selected with `-m e2e`
or EXTISM_E2E=1, so `pytest tests` stays fast. `nox -s e2e` selects them."""

from __future__ import annotations

import os

import pytest

from tests.run.conftest import built, weather_api  # noqa: F401 - shared fixtures


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end with a real Mastra client (run: pytest -m e2e)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected = "e2e" in (config.getoption("-m") or "") or os.environ.get("EXTISM_E2E") == "1"
    if selected:
        return
    skip = pytest.mark.skip(reason="end-to-end: run with `pytest -m e2e` or `nox -s e2e`")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)
