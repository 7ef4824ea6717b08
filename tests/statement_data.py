"""Rows for statement tests, written straight into the tables the traffic services own."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from ramal.container import Container
from ramal.store.tables import call_fields, calls, message_fields, messages, pins, recordings


def pin_id(container: Container, pin: str) -> int:
    with container.database.read() as connection:
        return int(connection.execute(select(pins.c.id).where(pins.c.pin == pin)).scalar_one())


def add_call(
    container: Container,
    *,
    account_id: int,
    pin: str,
    started_at: datetime,
    direction: str = "outbound",
    status: str = "completed",
    origin: str = "554130600300",
    destination: str = "5541999990001",
    duration: int = 65,
    recording: str | None = None,  # None | "available" | "expired" | "purged"
    campos: dict[str, str] | None = None,
    call_id: str | None = None,
) -> str:
    """One call; answered unless its status says otherwise. Returns its id (the callerid)."""
    call_id = call_id or container.ids.call_id()
    answered = status in ("answered", "completed")
    recording_id = container.ids.hex40() if recording else None
    pid = pin_id(container, pin)
    with container.database.write() as connection:
        connection.execute(
            insert(calls).values(
                id=call_id,
                account_id=account_id,
                pin_id=pid,
                direction=direction,
                origin=origin,
                destination=destination,
                status=status,
                record=recording is not None,
                invert_dial=False,
                source="api",
                created_at=started_at,
                started_at=started_at,
                answered_at=started_at + timedelta(seconds=5) if answered else None,
                ended_at=started_at + timedelta(seconds=5 + duration) if status != "ringing" else None,
                duration_seconds=duration if answered else 0,
                billable_seconds=(duration + 59) // 60 * 60 if answered else 0,
                recording_id=recording_id,
                campos=campos,
                event_sequence=0,
            )
        )
        if campos:
            connection.execute(
                insert(call_fields),
                [
                    {
                        "call_id": call_id,
                        "key": key,
                        "value": value,
                        "account_id": account_id,
                        "pin_id": pid,
                        "started_at": started_at,
                    }
                    for key, value in campos.items()
                ],
            )
        if recording_id is not None:
            connection.execute(
                insert(recordings).values(
                    **_recording(recording_id, call_id, account_id, started_at, recording)
                )
            )
    return call_id


def _recording(
    recording_id: str, call_id: str, account_id: int, started_at: datetime, state: str | None
) -> dict[str, Any]:
    far = started_at + timedelta(days=3650)
    return {
        "id": recording_id,
        "call_id": call_id,
        "account_id": account_id,
        "storage_key": f"rec/{recording_id}.mp3",
        "content_type": "audio/mpeg",
        "size_bytes": 1000,
        "duration_seconds": 60,
        "created_at": started_at,
        "expires_at": started_at + timedelta(seconds=1) if state == "expired" else far,
        "purged_at": started_at + timedelta(days=1) if state == "purged" else None,
    }


def add_message(
    container: Container,
    *,
    account_id: int,
    pin: str,
    started_at: datetime,
    kind: str = "sms",
    status: str = "delivered",
    origin: str = "554130600300",
    destination: str = "5541999990001",
    campos: dict[str, str] | None = None,
) -> str:
    message_id = container.ids.call_id()
    callerid = container.ids.numeric(14)
    pid = pin_id(container, pin)
    with container.database.write() as connection:
        connection.execute(
            insert(messages).values(
                id=message_id,
                callerid=callerid,
                account_id=account_id,
                pin_id=pid,
                kind=kind,
                direction="outbound",
                origin=origin,
                destination=destination,
                text="ola" if kind == "sms" else None,
                segments=1,
                status=status,
                attempts=1,
                max_attempts=3 if kind == "voice" else 1,
                created_at=started_at,
                started_at=started_at,
                sent_at=started_at + timedelta(seconds=2),
                delivered_at=started_at + timedelta(seconds=9) if status == "delivered" else None,
                campos=campos,
                event_sequence=0,
            )
        )
        if campos:
            connection.execute(
                insert(message_fields),
                [
                    {
                        "message_id": message_id,
                        "key": key,
                        "value": value,
                        "account_id": account_id,
                        "pin_id": pid,
                        "started_at": started_at,
                    }
                    for key, value in campos.items()
                ],
            )
    return callerid


# --- a small multi-tenant world -------------------------------------------------------------------

WORLD_START = datetime(2026, 11, 16, 3, 0, 0, tzinfo=UTC)  # 2026-11-16 00:00:00 in America/Sao_Paulo
ORIGINS = ("554130600300", "554130600301", "5511988887777")
DESTINATIONS = ("5541999990001", "5521911112222", "554130600300")
CPFS = ("111", "222", "333")
NAMES = ("Ana", "Bia")
STATUSES = ("completed", "completed", "no_answer", "busy", "failed", "canceled", "ringing", "answered")


@dataclass(frozen=True)
class SeededCall:
    id: str
    account_id: int
    pin: str
    started_at: datetime
    direction: str
    status: str
    origin: str
    destination: str
    recorded: bool
    campos: dict[str, str]


@dataclass
class World:
    """Two accounts: A with an admin pin and a plain pin, B with an admin pin; overlapping data."""

    tokens: dict[str, str]  # "a_admin" | "a_plain" | "b_admin" -> token
    pins: dict[str, str]
    accounts: dict[str, int]
    calls: list[SeededCall] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def build_world(container: Container, *, calls_per_pin: int = 24, seed: int = 7) -> World:
    rng = random.Random(seed)
    a = container.accounts.create_account("Alfa", admin=True)
    a_plain = container.accounts.add_pin(str(a.account_id))
    b = container.accounts.create_account("Beta", admin=True)
    issued = {"a_admin": a, "a_plain": a_plain, "b_admin": b}
    world = World(
        tokens={who: container.tokens.issue(i.client_id, i.client_secret).token for who, i in issued.items()},
        pins={who: i.pin for who, i in issued.items()},
        accounts={who: i.account_id for who, i in issued.items()},
    )
    container.statement.set_unanswered_statement(a.account_id, True)
    for owner in issued.values():
        for index in range(calls_per_pin):
            started = WORLD_START + timedelta(
                minutes=rng.randrange(0, 5 * 24 * 60), seconds=rng.choice((0, 30))
            )
            campos = {}
            if rng.random() < 0.6:
                campos["CPF"] = rng.choice(CPFS)
            if rng.random() < 0.5:
                campos["nome"] = rng.choice(NAMES)
            call = SeededCall(
                id=f"0190c000-0000-7000-8000-{owner.account_id:04d}{len(world.calls):08d}",
                account_id=owner.account_id,
                pin=owner.pin,
                started_at=started,
                direction=rng.choice(("outbound", "inbound")),
                status=rng.choice(STATUSES),
                origin=rng.choice(ORIGINS),
                destination=rng.choice(DESTINATIONS),
                recorded=rng.random() < 0.4,
                campos=campos,
            )
            add_call(
                container,
                account_id=call.account_id,
                pin=call.pin,
                started_at=call.started_at,
                direction=call.direction,
                status=call.status,
                origin=call.origin,
                destination=call.destination,
                recording=("available" if index % 2 else "expired") if call.recorded else None,
                campos=campos or None,
                call_id=call.id,
                duration=index * 7,
            )
            world.calls.append(call)
        for index in range(4):
            world.messages.append(
                add_message(
                    container,
                    account_id=owner.account_id,
                    pin=owner.pin,
                    started_at=WORLD_START + timedelta(hours=index * 11 + 1),
                    kind="voice" if index % 2 else "sms",
                    campos={"CPF": CPFS[index % 3]},
                )
            )
    return world
