"""Operator-side account management: accounts, pins (lines), numbers and credentials."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ramal.clock import Clock
from ramal.ids import IdGenerator
from ramal.services.errors import Conflict, InvalidInput, NotFound
from ramal.services.phone import normalize_number
from ramal.services.secrets import hash_secret, new_secret
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository, AccountRow, AccountSummary

PIN_DIGITS = 8
MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """The one moment a client secret exists in clear: shown to the operator, then only its hash."""

    account_id: int
    account_name: str
    pin: str
    numbers: tuple[str, ...]
    client_id: str
    client_secret: str
    is_admin: bool


class AccountService:
    def __init__(self, database: Database, clock: Clock, ids: IdGenerator, default_timezone: str) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.default_timezone = default_timezone

    def create_account(
        self, name: str, *, admin: bool = False, numbers: list[str] | None = None, timezone: str | None = None
    ) -> IssuedCredentials:
        """A new account with its first pin and credentials (admin credentials if ``admin``)."""
        clean_name = name.strip()
        if not clean_name or len(clean_name) > MAX_NAME_LENGTH:
            raise InvalidInput(f"O nome da conta deve ter de 1 a {MAX_NAME_LENGTH} caracteres")
        zone = _check_timezone(timezone or self.default_timezone)
        normalized = _normalize_numbers(numbers or [])
        with self.database.write() as connection:
            repo = AccountRepository(connection)
            account_id = repo.add_account(clean_name, zone, self.clock.now())
            return self._add_pin(repo, account_id, clean_name, normalized, admin)

    def add_pin(
        self, account: str, *, numbers: list[str] | None = None, admin: bool = False
    ) -> IssuedCredentials:
        """Another pin (product/line) with its own credentials on an existing account (id or name)."""
        normalized = _normalize_numbers(numbers or [])
        with self.database.write() as connection:
            repo = AccountRepository(connection)
            account_row = _resolve_account(repo, account)
            return self._add_pin(repo, account_row.id, account_row.name, normalized, admin)

    def rotate_credentials(self, pin: str) -> IssuedCredentials:
        """Revoke every credential of ``pin`` (and so its tokens) and issue a fresh one."""
        with self.database.write() as connection:
            repo = AccountRepository(connection)
            pin_row = repo.get_pin(pin)
            if pin_row is None:
                raise NotFound(f"Pin {pin} nao encontrado")
            old = repo.active_credentials_of_pin(pin_row.id)
            now = self.clock.now()
            for credential in old:
                repo.revoke_credential(credential.id, now)
            is_admin = any(c.is_admin for c in old)
            client_id, secret = self._new_credential(repo, pin_row.id, pin, is_admin)
            account_row = repo.get_account(pin_row.account_id)
            assert account_row is not None  # a pin always has its account (foreign key)
            return IssuedCredentials(
                account_id=account_row.id,
                account_name=account_row.name,
                pin=pin,
                numbers=tuple(repo.numbers_of_pin(pin_row.id)),
                client_id=client_id,
                client_secret=secret,
                is_admin=is_admin,
            )

    def list_accounts(self) -> list[AccountSummary]:
        with self.database.read() as connection:
            return AccountRepository(connection).summaries()

    # --- internals ---------------------------------------------------------------------------

    def _add_pin(
        self, repo: AccountRepository, account_id: int, account_name: str, numbers: list[str], admin: bool
    ) -> IssuedCredentials:
        taken = repo.numbers_taken(numbers)
        if taken:
            raise Conflict(f"Numero(s) ja atribuido(s) a outro pin: {', '.join(taken)}")
        pin = self._unused_pin(repo)
        pin_id = repo.add_pin(account_id, pin, self.clock.now())
        repo.add_numbers(pin_id, numbers)
        client_id, secret = self._new_credential(repo, pin_id, pin, admin)
        return IssuedCredentials(account_id, account_name, pin, tuple(numbers), client_id, secret, admin)

    def _unused_pin(self, repo: AccountRepository) -> str:
        while True:
            pin = self.ids.numeric(PIN_DIGITS)
            if not repo.pin_exists(pin):
                return pin

    def _new_credential(self, repo: AccountRepository, pin_id: int, pin: str, admin: bool) -> tuple[str, str]:
        # Directcall's client_id is an e-mail address; integrators' code may validate it as one.
        client_id = f"pin{pin}.{secrets.token_hex(4)}@ramal.local"
        secret = new_secret()
        repo.add_credential(pin_id, client_id, hash_secret(secret), admin, self.clock.now())
        return client_id, secret


def _resolve_account(repo: AccountRepository, reference: str) -> AccountRow:
    if reference.isdigit():
        row = repo.get_account(int(reference))
        if row is not None:
            return row
    matches = repo.find_accounts_by_name(reference)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise Conflict(f"Ha {len(matches)} contas com o nome {reference}: use o id")
    raise NotFound(f"Conta {reference} nao encontrada")


def _normalize_numbers(numbers: list[str]) -> list[str]:
    normalized = [normalize_number(n, field="number") for n in numbers]
    if len(set(normalized)) != len(normalized):
        raise InvalidInput("Numero repetido na lista")
    return normalized


def _check_timezone(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", name):
        raise InvalidInput(f"Fuso horario invalido: {name}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Fuso horario invalido: {name}") from None
    return name
