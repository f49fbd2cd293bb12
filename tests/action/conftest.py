"""Fixtures shared by the action tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing.gh_standin import AzuriteBlob, AzuriteNotFoundError, azurite, find_azurite


@pytest.fixture(scope="module")
def blob() -> Iterator[AzuriteBlob]:
    """A real Azurite blob service, one per test module; fails (not skips) without Azurite."""
    missing = ""
    try:
        find_azurite()
    except AzuriteNotFoundError as exc:
        missing = str(exc)
    if missing:  # outside the except block, so the report is the one-line message
        pytest.fail(missing, pytrace=False)
    with azurite() as running:
        yield running
