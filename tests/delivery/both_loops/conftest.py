"""The tests here run on both event loops: the workers run on uvloop, whose transports are not
asyncio's classes, and the rest of the suite runs on asyncio's."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, type[asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.SelectorEventLoop, "uvloop": uvloop.Loop}
