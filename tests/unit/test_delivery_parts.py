"""Pure parts of the delivery engine: signatures, schedule, URL rules, payload rendering."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import orjson
import pytest

from ramal.delivery.guard import AddressGuard, UnsafeTarget, parse_callback_url
from ramal.delivery.log import parse_since
from ramal.delivery.schedule import DELAYS_SECONDS, RetrySchedule
from ramal.delivery.sender import retry_after_seconds
from ramal.delivery.signer import new_secret, sign, signature_header, verify
from ramal.wire.callbacks import render_body, render_data
from tests.delivery.helpers import call_payload


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # The example of the Standard Webhooks specification's reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_two_secrets_give_two_space_separated_signatures() -> None:
    old, new = new_secret(), new_secret()
    header = signature_header([new, old], "id", 1, b"body")
    assert len(header.split()) == 2
    assert verify(old, "id", 1, b"body", header)
    assert verify(new, "id", 1, b"body", header)
    assert not verify(new_secret(), "id", 1, b"body", header)
    assert not verify(new, "id", 1, b"other", header)


def test_schedule_spans_about_a_day_with_bounded_jitter() -> None:
    schedule = RetrySchedule(rng=random.Random(7))
    assert schedule.max_attempts == 10
    assert DELAYS_SECONDS[1:4] == (5.0, 30.0, 120.0)
    assert 22 * 3600 < sum(DELAYS_SECONDS) < 24 * 3600
    for attempts in range(1, 10):
        delay = schedule.delay_after(attempts)
        assert delay is not None
        assert DELAYS_SECONDS[attempts] * 0.9 <= delay <= DELAYS_SECONDS[attempts] * 1.1
    assert schedule.delay_after(10) is None
    assert schedule.delay_after(1, retry_after=90) == 90
    assert schedule.delay_after(1, retry_after=10**9) == 6 * 3600
    assert RetrySchedule(scale=0.01, jitter=0).delay_after(1) == pytest.approx(0.05)


def test_retry_after_forms() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    future = (datetime.now(UTC) + timedelta(seconds=100)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    value = retry_after_seconds(future)
    assert value is not None
    assert 90 < value <= 100


def test_url_credentials_are_split_off_and_redacted() -> None:
    target = parse_callback_url("HTTPS://ana:p%40ss@Hooks.Example.com:8443/cb?x=1")
    assert (target.username, target.password) == ("ana", "p@ss")
    assert target.url == "https://hooks.example.com:8443/cb?x=1"
    assert target.redacted == "https://***@hooks.example.com:8443/cb?x=1"
    assert "p@ss" not in target.redacted
    with pytest.raises(UnsafeTarget):
        parse_callback_url("gopher://x/")


def test_address_guard_and_allow_list() -> None:
    strict = AddressGuard()
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "fe80::1",
        "ff02::1",
        "::1",
        "100.64.0.1",
        "0.0.0.0",
    ):
        with pytest.raises(UnsafeTarget):
            strict.check_address(address)
    strict.check_address("93.184.215.14")
    relaxed = AddressGuard.from_setting("127.0.0.0/8")
    relaxed.check_address("127.0.0.1")
    with pytest.raises(UnsafeTarget):
        relaxed.check_address("10.0.0.1")
    with pytest.raises(ValueError, match="ALLOW_NETWORKS"):
        AddressGuard.from_setting("not-a-network")


def test_call_payload_renders_in_the_accounts_zone_with_portuguese_names() -> None:
    payload = call_payload(
        "0193-call",
        "completed",
        answered_at="2026-11-23T12:00:05+00:00",
        ended_at="2026-11-23T12:01:10+00:00",
        duration_seconds=3725,
        billable_seconds=None,
        recording_id="ab" * 20,
    )
    data = render_data(
        "call.completed", payload, datetime(2026, 11, 23, 12, 1, 10, tzinfo=UTC), "http://r.test"
    )
    assert data["evento"] == "call.completed"
    assert data["data_evento"] == "2026-11-23 09:01:10"  # America/Sao_Paulo
    assert data["inicio"] == "2026-11-23 09:00:00"
    assert data["status"] == "finalizada"
    assert data["direcao"] == "saida"
    assert data["duracao"] == "01:02:05"
    assert data["duracao_cobrada"] == "00:00:00"  # a missing duration reads as zero
    assert data["gravacao_link"] == "http://r.test/extrato/gravacao/id/" + "ab" * 20
    assert data["final"] is True
    assert data["campos"] == {"CPF": "000.000.000-00"}
    body = render_body("call.completed", payload, datetime(2026, 11, 23, tzinfo=UTC), "http://r.test")
    fields = parse_qs(body.decode())
    assert list(fields) == ["data"]
    assert orjson.loads(fields["data"][0])["callerid"] == "0193-call"
    assert "\\/" in fields["data"][0]  # "/" escaped as PHP's json_encode does


def test_status_words_and_message_payload() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for status, word in [("answered", "atendida"), ("no-answer", "nao atendida"), ("busy", "ocupado")]:
        assert render_data("call.x", call_payload("c", status), now, "")["status"] == word
    sms = render_data(
        "message.delivered",
        {
            "message_id": "m",
            "callerid": "123",
            "status": "delivered",
            "timezone": "UTC",
            "final": True,
            "sent_at": "2026-01-01T00:00:01+00:00",
        },
        now,
        "",
    )
    assert (sms["status"], sms["callerid"], sms["envio"], sms["final"]) == (
        "entregue",
        "123",
        "2026-01-01 00:00:01",
        True,
    )


def test_parse_since() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("90s", now) == now - timedelta(seconds=90)
    assert parse_since("2026-11-23T10:00:00", now) == datetime(2026, 11, 23, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="2h"):
        parse_since("yesterday", now)
