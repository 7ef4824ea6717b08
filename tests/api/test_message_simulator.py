"""Every outcome of the sandbox message table, walked by the simulator under a manual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ramal.carrier.messages import MessageSimulator, SandboxMessageCarrier, sms_script, voice_script
from ramal.clock import ManualClock
from ramal.container import Container, build_container
from ramal.services.messages import MessageKind, SendRequest
from ramal.settings import Settings
from tests.conftest import Account
from tests.messages_helpers import events_of, message_rows, principal

ORIGIN = "554130600300"

# (kind, last four digits, attempts allowed) -> (event statuses, final status fields, seconds to the end)
OUTCOMES = [
    (MessageKind.SMS, "0001", 3, ["queued", "sent", "failed"], "expired", 1, 601),
    (MessageKind.SMS, "0002", 3, ["queued", "sent", "delivered"], None, 1, 121),
    (MessageKind.SMS, "0003", 3, ["queued", "failed"], "invalid_number", 0, 0),
    (MessageKind.SMS, "0004", 3, ["queued", "sent", "failed"], "rejected", 1, 3),
    (MessageKind.SMS, "5678", 3, ["queued", "sent", "delivered"], None, 1, 6),  # 1 + 2 + 8 % 5
    (MessageKind.VOICE, "0001", 3, ["queued", "sent", "failed"], "no_answer", 3, 391),  # 1 + 2*180 + 30
    (MessageKind.VOICE, "0002", 3, ["queued", "sent", "delivered"], None, 2, 196),  # 1 + 180 + 15
    (MessageKind.VOICE, "0002", 1, ["queued", "sent", "failed"], "no_answer", 1, 31),
    (MessageKind.VOICE, "0003", 3, ["queued", "failed"], "invalid_number", 0, 0),
    (MessageKind.VOICE, "0004", 2, ["queued", "sent", "failed"], "busy", 2, 183),  # 1 + 180 + 2
    (MessageKind.VOICE, "5678", 3, ["queued", "sent", "delivered"], None, 1, 19),  # 1 + 15 + 3
]


def _send(
    container: Container, account: Account, kind: MessageKind, destination: str, attempts: int = 3
) -> str:
    request = SendRequest(
        kind=kind, origin=ORIGIN, destinations=[destination], text="Ola", max_attempts=attempts
    )
    return container.messages.send(principal(container, account), request).messages[0].id


@pytest.mark.parametrize(("kind", "suffix", "attempts", "statuses", "reason", "tries", "seconds"), OUTCOMES)
def test_every_outcome_of_the_table(
    container: Container,
    account: Account,
    clock: ManualClock,
    kind: MessageKind,
    suffix: str,
    attempts: int,
    statuses: list[str],
    reason: str | None,
    tries: int,
    seconds: int,
) -> None:
    start = clock.now()
    message_id = _send(container, account, kind, "55419999" + suffix, attempts)
    if seconds > 0:
        clock.advance(seconds - 0.5)
        container.messages.advance_due()
        assert message_rows(container)[0].status not in ("failed", "delivered")  # not a moment early
        clock.advance(0.5)
    container.messages.advance_due()

    row = message_rows(container)[0]
    assert row.status == statuses[-1]
    assert row.end_reason == reason
    assert row.attempts == tries
    assert row.next_step_at is None
    assert row.event_sequence == len(statuses)
    history = events_of(container, message_id)
    assert [e.payload["status"] for e in history] == statuses
    assert [e.event_type for e in history] == [f"message.{s}" for s in statuses]
    assert [e.sequence for e in history] == list(range(1, len(statuses) + 1))
    assert [e.payload["final"] for e in history] == [False] * (len(statuses) - 1) + [True]
    assert history[-1].created_at == start + timedelta(seconds=seconds)
    assert history[-1].payload["end_reason"] == reason
    if statuses[-1] == "delivered":
        assert row.delivered_at == start + timedelta(seconds=seconds)
    if "sent" in statuses:
        assert row.sent_at == start + timedelta(seconds=1)
    else:
        assert row.sent_at is None

    clock.advance(hours=1)  # nothing moves after the final step
    assert container.messages.advance_due() == 0
    assert len(events_of(container, message_id)) == len(statuses)


def test_sms_waits_for_the_handset_before_expiring(
    container: Container, account: Account, clock: ManualClock
) -> None:
    message_id = _send(container, account, MessageKind.SMS, "5541999990001")
    clock.advance(1)
    container.messages.advance_due()
    clock.advance(599)
    container.messages.advance_due()
    assert message_rows(container)[0].status == "sent"
    assert [e.payload["status"] for e in events_of(container, message_id)] == ["queued", "sent"]


def test_voice_retries_are_spaced_and_counted_without_extra_events(
    container: Container, account: Account, clock: ManualClock
) -> None:
    message_id = _send(container, account, MessageKind.VOICE, "5541999990001", attempts=3)
    seen = []
    for seconds in (1, 180, 180):
        clock.advance(seconds)
        container.messages.advance_due()
        row = message_rows(container)[0]
        seen.append((row.status, row.attempts))
    assert seen == [("sent", 1), ("sent", 2), ("sent", 3)]
    assert len(events_of(container, message_id)) == 2  # queued, sent: retries are not state changes


def test_payload_carries_the_documented_keys(container: Container, account: Account) -> None:
    request = SendRequest(
        kind=MessageKind.SMS, origin=ORIGIN, destinations=["5541999995678"], text="x", campos={"nome": "João"}
    )
    row = container.messages.send(principal(container, account), request).messages[0]
    payload = events_of(container, row.id)[0].payload
    assert set(payload) == {
        "message_id",
        "callerid",
        "pin",
        "kind",
        "direction",
        "origin",
        "destination",
        "status",
        "segments",
        "created_at",
        "sent_at",
        "delivered_at",
        "end_reason",
        "campos",
        "final",
        "timezone",
    }
    assert payload["campos"] == {"nome": "João"}
    assert payload["pin"] == account.pin
    assert payload["timezone"] == "America/Sao_Paulo"
    assert payload["callerid"] == row.callerid


def test_speed_factor_compresses_the_timeline(
    settings: Settings, account: Account, clock: ManualClock, container: Container
) -> None:
    fast = build_container(settings.model_copy(update={"sandbox_speed": 100.0}), clock=clock)
    try:
        _send(fast, account, MessageKind.SMS, "5541999990001")
        clock.advance(6.01)  # 601 s at speed 100
        fast.messages.advance_due()
        assert message_rows(fast)[0].status == "failed"
    finally:
        fast.close()


def test_a_restart_resumes_the_timeline(
    settings: Settings, account: Account, clock: ManualClock, container: Container
) -> None:
    message_id = _send(container, account, MessageKind.SMS, "5541999990002")
    container.close()
    clock.advance(500)
    restarted = build_container(settings, clock=clock)
    try:
        assert restarted.messages.advance_due() == 1
        history = events_of(restarted, message_id)
        assert [e.payload["status"] for e in history] == ["queued", "sent", "delivered"]
        assert history[-1].created_at - history[0].created_at == timedelta(seconds=121)
    finally:
        restarted.close()


async def test_simulator_loop_runs_due_messages(
    container: Container, account: Account, clock: ManualClock
) -> None:
    _send(container, account, MessageKind.SMS, "5541999995678")
    simulator = MessageSimulator(container.messages)
    assert await simulator.run_once() == 0  # nothing is due yet
    clock.advance(10)
    assert await simulator.run_once() == 1
    assert message_rows(container)[0].status == "delivered"


@pytest.mark.parametrize("attempts", [1, 2, 3, 10])
def test_scripts_never_repeat_a_state(attempts: int) -> None:
    """The simulator finds its place by (status, attempts): each pair must be unique in a script."""
    for suffix in ("0001", "0002", "0003", "0004", "1234"):
        for steps in (sms_script("55419999" + suffix), voice_script("55419999" + suffix, attempts)):
            pairs = [(s.status, s.attempts) for s in steps]
            assert len(pairs) == len(set(pairs))
            assert steps[0].status == "queued"


def test_speed_divides_every_delay() -> None:
    slow = SandboxMessageCarrier(1.0).timeline(MessageKind.VOICE, "5541999990001", 3)
    fast = SandboxMessageCarrier(1000.0).timeline(MessageKind.VOICE, "5541999990001", 3)
    assert [s.after_seconds / 1000 for s in slow] == [s.after_seconds for s in fast]
