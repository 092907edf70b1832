"""Receiver fixtures: a harness already started (for fuzzing, shared by all examples of a test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.operator_fixtures import Harness


@pytest.fixture
async def started(harness: Harness) -> AsyncIterator[Harness]:
    """The ``harness``, started."""
    await harness.start()
    yield harness
