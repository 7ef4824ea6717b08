"""The per-process token cache: bounded by its window and by the token's own expiry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ramal.clock import ManualClock
from ramal.container import Container, build_container
from ramal.services.errors import AuthenticationFailed
from ramal.settings import Settings


@contextmanager
def issued_token(
    database_url: str, cache_seconds: float, ttl_seconds: int
) -> Iterator[tuple[Container, str, str]]:
    """A container on a manual clock, plus a fresh pin and a token for it."""
    settings = Settings(
        database_url=database_url, token_cache_seconds=cache_seconds, token_ttl_seconds=ttl_seconds
    )
    container = build_container(settings, clock=ManualClock())
    try:
        issued = container.accounts.create_account("Cache")
        yield container, issued.pin, container.tokens.issue(issued.client_id, issued.client_secret).token
    finally:
        container.close()


def test_cache_serves_within_window_then_revalidates(database_url: str) -> None:
    with issued_token(database_url, cache_seconds=5, ttl_seconds=3600) as (container, pin, token):
        assert container.tokens.cached(token) is None  # nothing cached before first validation
        principal = container.tokens.authenticate(token)
        assert container.tokens.cached(token) == principal
        container.accounts.rotate_credentials(pin)  # revoked in the database...
        assert container.tokens.cached(token) == principal  # ...still trusted inside the window
        container.clock.advance(6)  # type: ignore[attr-defined]
        assert container.tokens.cached(token) is None
        with pytest.raises(AuthenticationFailed):
            container.tokens.authenticate(token)


def test_cache_never_outlives_the_token(database_url: str) -> None:
    with issued_token(database_url, cache_seconds=600, ttl_seconds=60) as (container, _pin, token):
        container.tokens.authenticate(token)
        container.clock.advance(61)  # type: ignore[attr-defined]
        assert container.tokens.cached(token) is None
        with pytest.raises(AuthenticationFailed):
            container.tokens.authenticate(token)
