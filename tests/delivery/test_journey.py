"""The integrator's journey end to end: register over HTTP, place a recorded call with campos, and
receive every status of the call, in order, signed, with its campos and one final event."""

from __future__ import annotations

import asyncio

import orjson
from starlette.testclient import TestClient

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.delivery.signer import verify
from tests.conftest import Account
from tests.delivery.helpers import LOCAL, ThreadedReceiver, dispatcher
from tests.traffic.helpers import place, settle


async def _deliver(container: Container) -> None:
    engine = dispatcher(container)
    try:
        for _ in range(6):  # one event of the call per cycle: each waits for the previous one
            await engine.run_once()
    finally:
        await engine.close()


def test_recorded_call_events_reach_the_registered_url(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    receiver = ThreadedReceiver()
    try:
        container.callbacks.guard = LOCAL
        added = orjson.loads(
            client.post(
                "/voz/add-callback", data={"access_token": account.token, "url": receiver.url}
            ).content
        )
        assert added["codigo"] == "001"
        call = place(client, account.token, "5541999990004", gravar="s", **{"campos[CPF]": "000.000.000-00"})
        settle(container, clock)
        asyncio.run(_deliver(container))
        got = receiver.receiver.received
    finally:
        receiver.stop()
    assert [r.data["status"] for r in got] == ["aguardando", "chamando", "atendida", "finalizada"]
    assert [r.headers["ramal-sequence"] for r in got] == ["1", "2", "3", "4"]
    assert {r.data["callerid"] for r in got} == {call["callerid"]}
    assert all(r.data["campos"] == {"CPF": "000.000.000-00"} for r in got)
    assert [r.data["final"] for r in got] == [False, False, False, True]
    assert got[-1].data["duracao"] == "00:10:04"
    assert "/extrato/gravacao/id/" in got[-1].data["gravacao_link"]
    for r in got:
        assert verify(
            added["secret"],
            r.event_id,
            int(r.headers["webhook-timestamp"]),
            r.body,
            r.headers["webhook-signature"],
        )
