"""Housekeeping that needs no cron: expired access tokens are deleted in small batches."""

from __future__ import annotations

import asyncio

from ramal.loops import Loop
from ramal.services.tokens import TokenService


class TokenJanitor(Loop):
    name = "token-janitor"

    def __init__(self, tokens: TokenService, idle_seconds: float = 60.0, batch: int = 5_000) -> None:
        super().__init__(idle_seconds)
        self.tokens = tokens
        self.batch = batch

    async def run_once(self) -> int:
        deleted = await asyncio.to_thread(self.tokens.purge_expired, self.batch)
        return deleted if deleted >= self.batch else 0  # keep going only while batches are full
