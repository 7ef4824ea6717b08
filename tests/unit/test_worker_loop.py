"""``ramal worker`` runs its loops on uvloop, as ``ramal serve`` does through uvicorn."""

from __future__ import annotations

import asyncio

import uvloop

from ramal.cli.server import _event_loop_factory


def test_the_worker_runs_on_uvloop_where_installed() -> None:
    factory = _event_loop_factory()
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
