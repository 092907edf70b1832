"""The real app (``runtime.build``: real gate, executor and stores on the test's Redis, the emulated
Kubernetes API) served in-process through httpx's ASGI transport: no operator loop, no port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from aiops import runtime
from aiops.emulator import ClusterEmulator
from aiops.settings import Settings
from aiops.store import Store
from tests.support.operator_fixtures import TOKENS, make_settings

#: Opens the app with optional settings changes; yields (services, client authenticated as alice).
AppFactory = Callable[..., AbstractAsyncContextManager[tuple[runtime.Services, httpx.AsyncClient]]]


@pytest.fixture
def api_app(emulator: ClusterEmulator, store: Store) -> AppFactory:
    """``async with api_app(api={"docs": True}) as (services, client)``: the app, built as ``aiops run``
    builds it; keyword arguments replace fields of settings sections (``api``, ``approvals``...)."""

    @asynccontextmanager
    async def open_app(
        **sections: dict[str, Any],
    ) -> AsyncIterator[tuple[runtime.Services, httpx.AsyncClient]]:
        settings: Settings = make_settings(emulator)
        update = {
            name: getattr(settings, name).model_copy(update=values) for name, values in sections.items()
        }
        services = await runtime.build(settings.model_copy(update=update), store=store)
        headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
        transport = httpx.ASGITransport(app=services.app)
        try:
            async with httpx.AsyncClient(
                transport=transport, base_url="http://aiops", headers=headers
            ) as client:
                yield services, client
        finally:
            services.enricher.close()
            await services.kube.close()

    return open_app
