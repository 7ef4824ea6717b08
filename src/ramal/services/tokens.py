"""Access tokens: issued for client credentials, presented on every request, expiring.

Tokens are random (not JWTs): a lookup by hash lets rotation revoke them at once, and the hash at rest
means a database dump yields no usable token. Validation is the hottest path in the service, so each
process remembers tokens it has validated for ``cache_seconds`` (never past their expiry): a revocation
(``ramal credentials rotate``) is seen by a running server within that window.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ramal.clock import Clock
from ramal.services.errors import AuthenticationFailed
from ramal.services.principal import Principal
from ramal.services.secrets import hash_secret, new_secret, same_hash
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository

_CACHE_LIMIT = 50_000
_DUMMY_HASH = hash_secret("timing-equalizer")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    lifetime_seconds: int


class TokenService:
    def __init__(self, database: Database, clock: Clock, ttl_seconds: int, cache_seconds: float) -> None:
        self.database = database
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self.cache_window = timedelta(seconds=cache_seconds)
        self._cache: dict[str, tuple[Principal, datetime]] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, client_secret: str) -> IssuedToken:
        """Exchange client credentials for a token; any mismatch is the same AuthenticationFailed."""
        with self.database.write() as connection:
            repo = AccountRepository(connection)
            credential = repo.active_credential(client_id)
            # Compare against a dummy hash when the client is unknown so timing reveals nothing.
            stored = credential.secret_hash if credential else _DUMMY_HASH
            if not same_hash(stored, hash_secret(client_secret)) or credential is None:
                raise AuthenticationFailed()
            token = new_secret()
            now = self.clock.now()
            repo.add_token(hash_secret(token), credential.id, now, now + self.ttl)
        return IssuedToken(token, now + self.ttl, int(self.ttl.total_seconds()))

    def cached(self, token: str) -> Principal | None:
        """The principal if this process validated ``token`` moments ago; never touches the database,
        so the event loop can call it without a thread hop."""
        entry = self._cache.get(hash_secret(token))
        if entry is not None and entry[1] > self.clock.now():
            return entry[0]
        return None

    def authenticate(self, token: str) -> Principal:
        """The principal behind a live token, or AuthenticationFailed."""
        cached = self.cached(token)
        if cached is not None:
            return cached
        token_hash = hash_secret(token)
        now = self.clock.now()
        with self.database.read() as connection:
            owner = AccountRepository(connection).token_owner(token_hash, now)
        if owner is None:
            raise AuthenticationFailed()
        principal = Principal(
            owner.account_id, owner.pin_id, owner.pin, owner.is_admin, ZoneInfo(owner.timezone)
        )
        self._remember(token_hash, principal, min(owner.expires_at, now + self.cache_window))
        return principal

    def purge_expired(self, limit: int = 10_000) -> int:
        with self.database.write() as connection:
            return AccountRepository(connection).delete_expired_tokens(self.clock.now(), limit)

    def _remember(self, token_hash: str, principal: Principal, until: datetime) -> None:
        if self.cache_window <= timedelta(0):
            return
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # crude but bounded; a refill costs one query per live token
            self._cache[token_hash] = (principal, until)
