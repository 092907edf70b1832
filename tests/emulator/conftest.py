"""The emulator tests talk raw HTTP: an aiohttp session on the running emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from aiops.emulator import ClusterEmulator


@pytest.fixture
async def http(emulator: ClusterEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session whose relative URLs go to the emulator."""
    async with aiohttp.ClientSession(emulator.url) as session:
        yield session
