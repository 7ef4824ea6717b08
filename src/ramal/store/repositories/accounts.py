"""Accounts, pins, their numbers, credentials and access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from ramal.store.tables import access_tokens, accounts, credentials, pin_numbers, pins


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    timezone: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PinRow:
    id: int
    account_id: int
    pin: str


@dataclass(frozen=True, slots=True)
class CredentialRow:
    id: int
    pin_id: int
    secret_hash: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """What a valid token resolves to, in one indexed join."""

    account_id: int
    pin_id: int
    pin: str
    is_admin: bool
    timezone: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccountSummary:
    id: int
    name: str
    timezone: str
    created_at: datetime
    pins: tuple[str, ...]
    numbers: tuple[str, ...]


class AccountRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- accounts and pins -------------------------------------------------------------------

    def add_account(self, name: str, timezone: str, now: datetime) -> int:
        result = self.connection.execute(
            insert(accounts).values(name=name, timezone=timezone, created_at=now).returning(accounts.c.id)
        )
        return int(result.scalar_one())

    def get_account(self, account_id: int) -> AccountRow | None:
        row = self.connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return None if row is None else AccountRow(row.id, row.name, row.timezone, row.created_at)

    def find_accounts_by_name(self, name: str) -> list[AccountRow]:
        rows = self.connection.execute(
            select(accounts).where(accounts.c.name == name).order_by(accounts.c.id)
        )
        return [AccountRow(r.id, r.name, r.timezone, r.created_at) for r in rows]

    def add_pin(self, account_id: int, pin: str, now: datetime) -> int:
        result = self.connection.execute(
            insert(pins).values(account_id=account_id, pin=pin, created_at=now).returning(pins.c.id)
        )
        return int(result.scalar_one())

    def pin_exists(self, pin: str) -> bool:
        return self.connection.execute(select(pins.c.id).where(pins.c.pin == pin)).first() is not None

    def get_pin(self, pin: str) -> PinRow | None:
        row = self.connection.execute(select(pins).where(pins.c.pin == pin)).first()
        return None if row is None else PinRow(row.id, row.account_id, row.pin)

    def pins_of_account(self, account_id: int) -> list[PinRow]:
        rows = self.connection.execute(
            select(pins).where(pins.c.account_id == account_id).order_by(pins.c.id)
        )
        return [PinRow(r.id, r.account_id, r.pin) for r in rows]

    def numbers_taken(self, numbers: list[str]) -> list[str]:
        query = select(pin_numbers.c.number).where(pin_numbers.c.number.in_(numbers))
        return list(self.connection.execute(query).scalars())

    def add_numbers(self, pin_id: int, numbers: list[str]) -> None:
        if numbers:
            self.connection.execute(insert(pin_numbers), [{"number": n, "pin_id": pin_id} for n in numbers])

    def numbers_of_pin(self, pin_id: int) -> list[str]:
        query = (
            select(pin_numbers.c.number).where(pin_numbers.c.pin_id == pin_id).order_by(pin_numbers.c.number)
        )
        return list(self.connection.execute(query).scalars())

    def pin_of_number(self, number: str) -> PinRow | None:
        query = (
            select(pins.c.id, pins.c.account_id, pins.c.pin)
            .join(pin_numbers, pin_numbers.c.pin_id == pins.c.id)
            .where(pin_numbers.c.number == number)
        )
        row = self.connection.execute(query).first()
        return None if row is None else PinRow(row.id, row.account_id, row.pin)

    def summaries(self) -> list[AccountSummary]:
        account_rows = self.connection.execute(select(accounts).order_by(accounts.c.id)).all()
        pin_rows = self.connection.execute(select(pins.c.account_id, pins.c.pin).order_by(pins.c.id)).all()
        number_rows = self.connection.execute(
            select(pins.c.account_id, pin_numbers.c.number)
            .join(pins, pins.c.id == pin_numbers.c.pin_id)
            .order_by(pin_numbers.c.number)
        ).all()
        return [
            AccountSummary(
                id=a.id,
                name=a.name,
                timezone=a.timezone,
                created_at=a.created_at,
                pins=tuple(p.pin for p in pin_rows if p.account_id == a.id),
                numbers=tuple(n.number for n in number_rows if n.account_id == a.id),
            )
            for a in account_rows
        ]

    # --- credentials -------------------------------------------------------------------------

    def add_credential(
        self, pin_id: int, client_id: str, secret_hash: str, is_admin: bool, now: datetime
    ) -> int:
        result = self.connection.execute(
            insert(credentials)
            .values(
                pin_id=pin_id, client_id=client_id, secret_hash=secret_hash, is_admin=is_admin, created_at=now
            )
            .returning(credentials.c.id)
        )
        return int(result.scalar_one())

    def active_credential(self, client_id: str) -> CredentialRow | None:
        query = select(credentials).where(
            credentials.c.client_id == client_id, credentials.c.revoked_at.is_(None)
        )
        row = self.connection.execute(query).first()
        return None if row is None else CredentialRow(row.id, row.pin_id, row.secret_hash, row.is_admin)

    def active_credentials_of_pin(self, pin_id: int) -> list[CredentialRow]:
        query = select(credentials).where(credentials.c.pin_id == pin_id, credentials.c.revoked_at.is_(None))
        return [
            CredentialRow(r.id, r.pin_id, r.secret_hash, r.is_admin) for r in self.connection.execute(query)
        ]

    def revoke_credential(self, credential_id: int, now: datetime) -> None:
        self.connection.execute(
            update(credentials).where(credentials.c.id == credential_id).values(revoked_at=now)
        )
        self.connection.execute(delete(access_tokens).where(access_tokens.c.credential_id == credential_id))

    # --- tokens ------------------------------------------------------------------------------

    def add_token(
        self, token_hash: str, credential_id: int, issued_at: datetime, expires_at: datetime
    ) -> None:
        self.connection.execute(
            insert(access_tokens).values(
                token_hash=token_hash, credential_id=credential_id, issued_at=issued_at, expires_at=expires_at
            )
        )

    def token_owner(self, token_hash: str, now: datetime) -> TokenOwner | None:
        query = (
            select(
                pins.c.account_id,
                pins.c.id.label("pin_id"),
                pins.c.pin,
                credentials.c.is_admin,
                accounts.c.timezone,
                access_tokens.c.expires_at,
            )
            .select_from(access_tokens)
            .join(credentials, credentials.c.id == access_tokens.c.credential_id)
            .join(pins, pins.c.id == credentials.c.pin_id)
            .join(accounts, accounts.c.id == pins.c.account_id)
            .where(
                access_tokens.c.token_hash == token_hash,
                access_tokens.c.expires_at > now,
                credentials.c.revoked_at.is_(None),
            )
        )
        row = self.connection.execute(query).first()
        if row is None:
            return None
        return TokenOwner(row.account_id, row.pin_id, row.pin, row.is_admin, row.timezone, row.expires_at)

    def delete_expired_tokens(self, now: datetime, limit: int) -> int:
        doomed = select(access_tokens.c.token_hash).where(access_tokens.c.expires_at <= now).limit(limit)
        result = self.connection.execute(delete(access_tokens).where(access_tokens.c.token_hash.in_(doomed)))
        return int(result.rowcount)

    def count_tokens(self) -> int:
        return int(self.connection.execute(select(func.count()).select_from(access_tokens)).scalar_one())
