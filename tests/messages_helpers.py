"""Helpers of the message tests: a principal for service calls, and reading back rows and events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ramal.container import Container
from ramal.services.principal import Principal
from ramal.store.tables import events, message_fields, messages
from tests.conftest import Account


def principal(container: Container, account: Account) -> Principal:
    return container.tokens.authenticate(account.token)


def message_rows(container: Container) -> list[Any]:
    with container.database.read() as connection:
        return list(connection.execute(select(messages).order_by(messages.c.created_at, messages.c.id)))


def events_of(container: Container, message_id: str) -> list[Any]:
    query = select(events).where(events.c.subject_id == message_id).order_by(events.c.sequence)
    with container.database.read() as connection:
        return list(connection.execute(query))


def all_events(container: Container) -> list[Any]:
    with container.database.read() as connection:
        return list(connection.execute(select(events)))


def field_rows(container: Container) -> list[Any]:
    with container.database.read() as connection:
        query = select(message_fields).order_by(message_fields.c.message_id, message_fields.c.key)
        return list(connection.execute(query))
