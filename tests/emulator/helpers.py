"""Helpers for the emulator tests: patch content types and watch-stream readers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


async def read_events(
    response: aiohttp.ClientResponse, count: int, timeout_seconds: float = 2.0
) -> list[dict[str, Any]]:
    """The next ``count`` watch events (JSON lines) of a streaming response."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_seconds):
        while len(events) < count:
            line = await response.content.readline()
            if not line:
                break
            if line.strip():
                events.append(json.loads(line))
    return events


async def read_all_events(response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    """Every event until the server ends the stream (use with ``timeoutSeconds``)."""
    return [json.loads(line) async for line in response.content if line.strip()]
