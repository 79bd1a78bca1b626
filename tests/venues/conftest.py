"""Fixtures of the venue tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.venues.generic import CcxtVenue


@pytest.fixture
async def opened() -> AsyncIterator[list[CcxtVenue]]:
    """The venues a test built; their clients are closed when it ends."""
    venues: list[CcxtVenue] = []
    yield venues
    for venue in venues:
        await venue.client.close()
