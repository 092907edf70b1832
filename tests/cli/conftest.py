"""Fixtures shared by the CLI tests: servers that listen and never answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.helpers import SilentServer


@pytest.fixture
def silent() -> Iterator[tuple[SilentServer, SilentServer]]:
    """(Kubernetes API, Redis): both listening, neither answering."""
    kube, redis_ = SilentServer(), SilentServer()
    try:
        yield kube, redis_
    finally:
        kube.close()
        redis_.close()
