"""The callback registry: which URLs an account wants its call and SMS events pushed to.

An endpoint is identified by a 40-hex ``code`` (as the contract's add-callback returns), belongs to an
account, optionally to one of its pins (only that line's events), and is of one kind: ``voice`` (call
status and incoming calls) or ``sms`` (message status). Each gets a Standard Webhooks signing secret.
URLs are checked against the SSRF guard here, at registration; the dispatcher checks again on every
delivery. Removing keeps the row (its delivery log stays readable) and stops new deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from ramal.clock import Clock
from ramal.delivery.guard import AddressGuard, CallbackTarget, UnsafeTarget, parse_callback_url
from ramal.delivery.signer import new_secret
from ramal.ids import IdGenerator
from ramal.services.errors import InvalidInput, NotFound, ServiceError
from ramal.services.principal import Principal
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository
from ramal.store.repositories.callbacks import CallbackRepository, EndpointRow, NewEndpoint

KINDS = ("voice", "sms")


class AlreadyRemoved(ServiceError):
    """The endpoint existed for this account but was removed before (wire code 010)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as its owner may see it: the URL with credentials masked, never the password."""

    code: str
    kind: str
    url: str  # redacted
    pin: str | None
    state: str  # active | paused | disabled
    state_reason: str | None
    created_at: datetime
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class Registered:
    code: str
    secret: str


@dataclass(frozen=True, slots=True)
class SecretInfo:
    code: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


class CallbackRegistry:
    def __init__(
        self, database: Database, clock: Clock, ids: IdGenerator, guard: AddressGuard, overlap: timedelta
    ) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.guard = guard
        self.overlap = overlap

    def add(self, principal: Principal, kind: str, url: str, pin: str | None = None) -> Registered:
        target = self._check_url(url)
        self.guard_host(target.host)
        code, secret = self.ids.hex40(), new_secret()
        with self.database.write() as connection:
            pin_id = self._pin_id(connection, principal, pin)
            CallbackRepository(connection).add(
                NewEndpoint(code, principal.account_id, pin_id, kind, url, secret, self.clock.now())
            )
        return Registered(code, secret)

    def guard_host(self, host: str) -> None:
        try:
            self.guard.check_host(host)
        except UnsafeTarget as refusal:
            raise InvalidInput(
                f"{refusal}; para desenvolvimento local veja RAMAL_CALLBACK_ALLOW_NETWORKS"
            ) from None

    def list_endpoints(self, principal: Principal, kind: str) -> list[Endpoint]:
        with self.database.read() as connection:
            rows = CallbackRepository(connection).of_account(principal.account_id, kind)
        return [public_view(row) for row in rows]

    def remove(self, principal: Principal, kind: str, code: str) -> None:
        with self.database.write() as connection:
            repo = CallbackRepository(connection)
            row = repo.get(code)
            if row is None or row.account_id != principal.account_id or row.kind != kind:
                raise NotFound(f"Campo code {code} nao existe")
            if row.state == "removed":
                raise AlreadyRemoved(f"Callback {code} ja foi removido")
            repo.mark_removed(code, self.clock.now())

    # --- operator actions (CLI and the ramal admin API) --------------------------------------------

    def secret(self, code: str, account_id: int | None = None) -> SecretInfo:
        row = self._live(code, account_id)
        previous = row.previous_secret
        expires = row.previous_secret_expires_at
        if expires is not None and expires <= self.clock.now():
            previous, expires = None, None
        return SecretInfo(row.code, row.secret, previous, expires)

    def rotate_secret(self, code: str, account_id: int | None = None) -> SecretInfo:
        """A new secret; the old one keeps signing (both signatures sent) for the overlap window."""
        row = self._live(code, account_id)
        until = self.clock.now() + self.overlap
        secret = new_secret()
        with self.database.write() as connection:
            CallbackRepository(connection).set_secret(code, secret, row.secret, until)
        return SecretInfo(code, secret, row.secret, until)

    def resume(self, code: str, account_id: int | None = None) -> int:
        """Re-enable a paused or disabled endpoint and make its whole backlog due now."""
        self._live(code, account_id)
        with self.database.write() as connection:
            repo = CallbackRepository(connection)
            repo.set_state(code, "active", None)
            return repo.reschedule_backlog(code, self.clock.now())

    def all_endpoints(self) -> list[Endpoint]:
        with self.database.read() as connection:
            return [public_view(row) for row in CallbackRepository(connection).all_live()]

    def _live(self, code: str, account_id: int | None) -> EndpointRow:
        with self.database.read() as connection:
            row = CallbackRepository(connection).get(code)
        if row is None or row.state == "removed" or account_id not in (None, row.account_id):
            raise NotFound(f"Campo code {code} nao existe")
        return row

    def _check_url(self, url: str) -> CallbackTarget:
        try:
            return parse_callback_url(url)
        except UnsafeTarget as refusal:
            raise InvalidInput(f"Parametro url invalido: {refusal}") from None

    def _pin_id(self, connection: Connection, principal: Principal, pin: str | None) -> int | None:
        if pin is None:
            return None
        row = AccountRepository(connection).get_pin(pin)
        if row is None or row.account_id != principal.account_id:
            raise InvalidInput(f"Parametro pin invalido: {pin} nao pertence a esta conta")
        if not principal.is_admin and row.id != principal.pin_id:
            raise InvalidInput(f"Parametro pin invalido: {pin} nao pertence a estas credenciais")
        return row.id


def public_view(row: EndpointRow) -> Endpoint:
    return Endpoint(
        code=row.code,
        kind=row.kind,
        url=parse_callback_url(row.url).redacted,
        pin=row.pin,
        state=row.state,
        state_reason=row.state_reason,
        created_at=row.created_at,
        failing_since=row.failing_since,
    )
