"""Every row of the sandbox table, end to end: /voz/call -> simulator (ManualClock) -> record + events."""

from __future__ import annotations

import wave
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ramal.carrier.sandbox import SandboxCarrier
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.store.tables import recordings
from tests.conftest import Account
from tests.traffic.helpers import call_events, call_row, count, place, settle

# destination suffix -> (statuses walked, end status, end_reason, seconds to ring, to answer, to end)
STORIES = {
    "0001": (["queued", "ringing", "busy"], "busy", 1, None, 4),
    "0002": (["queued", "ringing", "no_answer"], "destination_no_answer", 1, None, 31),
    "0003": (["queued", "failed"], "invalid_number", None, None, 1),
    "0004": (["queued", "ringing", "answered", "completed"], "hangup", 1, 4, 604),
    "0005": (["queued", "ringing", "no_answer"], "origin_no_answer", 1, None, 31),
}
EVENT_TYPES = {
    "queued": "call.queued",
    "ringing": "call.ringing",
    "answered": "call.answered",
    "completed": "call.completed",
    "busy": "call.busy",
    "no_answer": "call.no_answer",
    "failed": "call.failed",
}


@pytest.mark.parametrize("suffix", sorted(STORIES))
def test_scripted_destinations(
    client: TestClient, container: Container, account: Account, clock: ManualClock, suffix: str
) -> None:
    statuses, reason, ring_at, answer_at, end_at = STORIES[suffix]
    start = clock.now()
    answer = place(client, account.token, f"554199999{suffix}", gravar="s")
    assert answer["codigo"] == "000"
    call_id = answer["callerid"]
    settle(container, clock)

    row = call_row(container, call_id)
    assert row.status == statuses[-1]
    assert row.end_reason == reason
    assert row.started_at == start
    assert row.ended_at == start + timedelta(seconds=end_at)
    assert row.answered_at == (None if answer_at is None else start + timedelta(seconds=answer_at))
    assert row.duration_seconds == end_at
    assert row.billable_seconds == (end_at - answer_at if answer_at else 0)
    assert row.next_step_at is None
    assert row.event_sequence == len(statuses)

    events = call_events(container, call_id)
    assert [e.event_type for e in events] == [EVENT_TYPES[s] for s in statuses]
    assert [e.sequence for e in events] == list(range(1, len(statuses) + 1))
    assert [e.payload["final"] for e in events] == [False] * (len(statuses) - 1) + [True]
    assert [e.payload["status"] for e in events] == statuses
    if ring_at is not None:
        assert events[1].payload["status"] == "ringing"
    # a recording exists only for the answered story, even though every call asked for one
    assert (row.recording_id is not None) == (answer_at is not None)
    assert count(container, recordings) == (1 if answer_at else 0)


def test_other_destinations_answer_and_talk_for_a_duration_derived_from_the_call_id(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    start = clock.now()
    ids = [place(client, account.token, f"55419999{n:05d}")["callerid"] for n in (1234, 5678, 9)]
    settle(container, clock)
    talks = set()
    for call_id in ids:
        script = SandboxCarrier().outbound_script(call_id, "", "5541999991234")
        row = call_row(container, call_id)
        assert row.status == "completed"
        assert 2 <= script.ring_seconds <= 6
        assert 10 <= script.talk_seconds <= 180
        assert row.answered_at == start + timedelta(seconds=1 + script.ring_seconds)
        assert row.billable_seconds == script.talk_seconds
        assert row.duration_seconds == 1 + script.ring_seconds + script.talk_seconds
        assert row.recording_id is None  # gravar not asked
        talks.add(script.talk_seconds)
        assert SandboxCarrier().outbound_script(call_id, "", "5541999995678") == script  # deterministic
    assert len(talks) > 1


def test_recorded_call_has_a_real_wav_of_the_talk_duration(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    call_id = place(client, account.token, "5541999991234", gravar="s")["callerid"]
    settle(container, clock)
    row = call_row(container, call_id)
    assert len(row.recording_id) == 40
    path = container.recordings.open(row.recording_id)
    assert path is not None
    with wave.open(str(Path(path.path)), "rb") as audio:
        assert audio.getnchannels() == 1
        assert audio.getnframes() / audio.getframerate() == row.billable_seconds
    completed = call_events(container, call_id)[-1]
    assert completed.payload["recording_id"] == row.recording_id


def test_restart_resumes_timelines(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    from ramal.container import build_container
    from tests.traffic.helpers import next_due

    start = clock.now()
    call_id = place(client, account.token, "5541999990004")["callerid"]
    settle(container, clock, until_seconds=2)  # rang, not yet answered
    assert call_row(container, call_id).status == "ringing"
    container.close()

    clock.advance(seconds=120)  # the process was down for two minutes
    restarted = build_container(container.settings, clock=clock)
    try:
        assert next_due(restarted) == start + timedelta(seconds=4)
        settle(restarted, clock)
        row = call_row(restarted, call_id)
        assert row.status == "completed"
        assert row.answered_at == start + timedelta(seconds=4)  # stamped when due, not when resumed
        assert row.ended_at == start + timedelta(seconds=604)
        assert [e.sequence for e in call_events(restarted, call_id)] == [1, 2, 3, 4]
    finally:
        restarted.close()


def test_sandbox_speed_compresses_wall_time_but_not_durations(
    container: Container, account: Account, clock: ManualClock
) -> None:
    from ramal.services.calls import CallRequest

    container.calls.speed = 1000
    principal = container.tokens.authenticate(account.token)
    call = container.calls.place(principal, CallRequest("554130600300", "5541999990004"))
    start = clock.now()
    settle(container, clock)
    row = call_row(container, call.id)
    assert row.ended_at - start == timedelta(seconds=0.604)
    assert row.duration_seconds == 604
    assert row.billable_seconds == 600


def test_watchdog_closes_calls_stuck_past_the_stale_limit(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    call_id = place(client, account.token, "5541999990004")["callerid"]
    clock.advance(hours=2)  # workers were down far longer than the call could last
    assert container.calls.close_stale() == 1
    row = call_row(container, call_id)
    assert (row.status, row.end_reason, row.next_step_at) == ("failed", "stale", None)
    assert [e.payload["final"] for e in call_events(container, call_id)] == [False, True]
    assert container.calls.advance_due() == 0


def test_a_failing_call_is_postponed_without_stalling_the_others(
    client: TestClient,
    container: Container,
    account: Account,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded = place(client, account.token, "5541999990004", gravar="s")["callerid"]
    plain = place(client, account.token, "5541999990004")["callerid"]
    clock.advance(seconds=4)
    settle(container, clock, until_seconds=0)  # both answered
    store = container.recordings.store

    def broken_disk(seconds: int) -> object:
        raise OSError("disk full")

    monkeypatch.setattr(container.recordings, "store", broken_disk)
    clock.advance(seconds=600)
    assert container.calls.advance_due() == 1  # the plain call completes; the recorded one is postponed
    assert call_row(container, plain).status == "completed"
    stuck = call_row(container, recorded)
    assert stuck.status == "answered"
    assert stuck.next_step_at == clock.now() + timedelta(seconds=30)
    assert [e.event_type for e in call_events(container, recorded)][-1] == "call.answered"

    monkeypatch.setattr(container.recordings, "store", store)
    clock.advance(seconds=30)
    assert container.calls.advance_due() == 1
    done = call_row(container, recorded)
    assert done.status == "completed"
    assert done.recording_id is not None
    assert done.billable_seconds == 600  # the story is unchanged; only its end was stamped late
    assert done.ended_at == stuck.next_step_at
