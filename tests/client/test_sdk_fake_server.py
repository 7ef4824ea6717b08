"""SDK behaviour against the in-test fake (``fake_directcall.py``).

Failure injection a real server will not produce on demand: timeouts, proxy pages, malformed
bodies, a token refused right after it was issued, every error code, retry policy. Everything else
runs against a real ``ramal serve`` (tests/e2e/test_sdk_real_server.py).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest

from ramal.client import (
    ApiError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConfigurationError,
    RequestTimeout,
    ServerConnectionFailure,
    ServerUnreachable,
    TransportError,
    UnexpectedResponse,
)
from ramal.client import operations as ops
from ramal.client.core import build_request
from ramal.client.errors import ERRORS_BY_CODE
from tests.client.fake_directcall import FakeDirectcall, envelope_response, raw_response

URL = "http://fake.local"


@pytest.fixture
def fake() -> FakeDirectcall:
    return FakeDirectcall()


def make_client(fake: FakeDirectcall, **options: object) -> Client:
    return Client(
        URL,
        fake.client_id,
        fake.client_secret,
        transport=fake.transport(),
        backoff=0,
        **options,  # type: ignore[arg-type]
    )


# --- configuration ---------------------------------------------------------------------------


def test_constructing_a_client_sends_nothing_and_the_token_is_fetched_once(fake: FakeDirectcall) -> None:
    client = make_client(fake)
    assert fake.requests == []
    client.token_info()
    client.token_info()
    assert fake.paths() == ["/request_token", "/ramal/token-info", "/ramal/token-info"]
    assert fake.params_of(fake.requests[1])["access_token"] == "token-1"


def test_settings_come_from_the_environment(fake: FakeDirectcall, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMAL_URL", "http://from-env.local/")
    monkeypatch.setenv("RAMAL_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", fake.client_secret)
    client = Client(transport=fake.transport())
    assert client.config.base_url == "http://from-env.local"
    client.token_info()
    assert str(fake.requests[0].url) == "http://from-env.local/request_token"


def test_the_default_base_url_is_the_real_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAMAL_URL", raising=False)
    assert Client(client_id="a", client_secret="b").config.base_url == "https://api.directcallsoft.com"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"client_id": None, "client_secret": "x"}, "client_id missing"),
        ({"client_id": "x", "client_secret": None}, "client_secret missing"),
        ({"client_id": "x", "client_secret": "y", "base_url": "ftp://x"}, "must start with http"),
        ({"client_id": "x", "client_secret": "y", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"client_id": "x", "client_secret": "y", "output": "yaml"}, "use 'json' or 'xml'"),
    ],
)
def test_unusable_configuration_is_refused_at_construction(
    arguments: dict[str, str | None], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RAMAL_CLIENT_ID", "RAMAL_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=message):
        Client(**arguments)  # type: ignore[arg-type]


# --- tokens ----------------------------------------------------------------------------------


def test_token_renewed_shortly_before_expiry(fake: FakeDirectcall) -> None:
    fake.token_lifetime = 1  # renewed at 0.9 s (a tenth of the lifetime early)
    client = make_client(fake)
    client.token_info()
    threading.Event().wait(0.95)
    client.token_info()
    tokens = [fake.params_of(r)["access_token"] for r in fake.requests if r.url.path == "/ramal/token-info"]
    assert tokens == ["token-1", "token-2"]


def test_refused_token_is_renewed_once_and_the_request_resent(fake: FakeDirectcall) -> None:
    client = make_client(fake)
    client.token_info()
    fake.revoked.add("token-1")
    info = client.token_info()
    assert info.pin == "12345678"
    assert fake.paths() == [
        "/request_token",
        "/ramal/token-info",
        "/ramal/token-info",
        "/request_token",
        "/ramal/token-info",
    ]


def test_a_token_refused_even_when_fresh_is_a_precise_error_not_a_loop(fake: FakeDirectcall) -> None:
    fake.refuse_every_token = True
    client = make_client(fake)
    with pytest.raises(
        AuthenticationError, match="refused again with a freshly issued access token"
    ) as caught:
        client.token_info()
    assert caught.value.codigo == "006"
    assert fake.paths().count("/request_token") == 2
    assert len(fake.requests) == 4


def test_wrong_credentials_name_the_client_id(fake: FakeDirectcall) -> None:
    client = Client(URL, fake.client_id, "wrong", transport=fake.transport())
    with pytest.raises(
        AuthenticationError, match=r"request_token refused client_id 'pin12345678\.abcd@ramal\.local'"
    ):
        client.token_info()
    assert fake.paths() == ["/request_token"]  # a 006 on request_token itself is not retried


def test_concurrent_threads_share_one_token_request(fake: FakeDirectcall) -> None:
    fake.token_delay = 0.05
    client = make_client(fake)
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            client.token_info()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fake.issued == ["token-1"]


def test_concurrent_refusals_cause_one_renewal(fake: FakeDirectcall) -> None:
    client = make_client(fake)
    client.token_info()
    fake.revoked.add("token-1")
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        client.token_info()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.issued == ["token-1", "token-2"]


async def test_concurrent_tasks_share_one_token_request(fake: FakeDirectcall) -> None:
    async with AsyncClient(URL, fake.client_id, fake.client_secret, transport=fake.transport()) as client:
        infos = await asyncio.gather(*(client.token_info() for _ in range(20)))
    assert {info.account for info in infos} == {7}
    assert fake.issued == ["token-1"]


async def test_async_client_renews_a_refused_token(fake: FakeDirectcall) -> None:
    async with AsyncClient(URL, fake.client_id, fake.client_secret, transport=fake.transport()) as client:
        await client.token_info()
        fake.revoked.add("token-1")
        await client.token_info()
        fake.refuse_every_token = True
        with pytest.raises(AuthenticationError, match="refused again"):
            await client.token_info()
    assert fake.issued == ["token-1", "token-2", "token-3"]


# --- error mapping ---------------------------------------------------------------------------


# 006 is renewed and resent first; its own tests are above (refused again, wrong credentials).
@pytest.mark.parametrize(
    ("codigo", "error_class"),
    [(code, kind) for code, kind in sorted(ERRORS_BY_CODE.items()) if code != "006"],
)
def test_each_code_raises_its_exception_with_codigo_and_msg(
    fake: FakeDirectcall, codigo: str, error_class: type[ApiError]
) -> None:
    client = make_client(fake, max_retries=0)
    client.token()
    fake.script.append(envelope_response(codigo, f"mensagem {codigo}"))
    with pytest.raises(error_class) as caught:
        client.place_call("554130600300", "5541999990000")
    assert type(caught.value) is error_class
    assert (caught.value.codigo, caught.value.msg) == (codigo, f"mensagem {codigo}")
    assert caught.value.envelope["codigo"] == codigo
    assert str(caught.value) == f"[{codigo}] mensagem {codigo}"


def test_an_unknown_code_is_still_an_api_error(fake: FakeDirectcall) -> None:
    client = make_client(fake)
    client.token()
    fake.script.append(envelope_response("999", "novo"))
    with pytest.raises(ApiError) as caught:
        client.end_call("554130600300", "5541999990000")
    assert type(caught.value) is ApiError
    assert caught.value.codigo == "999"


# --- transport trouble and retries -----------------------------------------------------------


def counting_transport(error: Exception) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        raise error

    return httpx.MockTransport(handler), seen


def test_connection_failures_are_retried_for_any_call_then_reported(fake: FakeDirectcall) -> None:
    transport, seen = counting_transport(httpx.ConnectError("Connection refused"))
    client = Client(URL, "a", "b", transport=transport, backoff=0, max_retries=2)
    with pytest.raises(ServerUnreachable, match=r"cannot connect to http://fake\.local .*RAMAL_URL"):
        client.place_call("1", "2")
    assert seen == ["/request_token"] * 3


def test_read_timeouts_retry_safe_calls_only(fake: FakeDirectcall) -> None:
    client = make_client(fake, max_retries=2)
    client.token()
    timeout = httpx.ReadTimeout("slow")

    def slow(request: httpx.Request) -> httpx.Response:
        raise timeout

    fake.script.extend([slow, slow])
    assert client.token_info().account == 7
    fake.script.append(slow)
    before = len(fake.requests)
    with pytest.raises(RequestTimeout, match="did not answer within 15 s"):
        client.place_call("554130600300", "5541999990000")
    assert len(fake.requests) == before + 1  # a call is never placed twice


PROXY_PAGE = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def test_a_proxy_error_page_is_retried_for_reads_and_reported_precisely(fake: FakeDirectcall) -> None:
    client = make_client(fake, max_retries=1)
    client.token()
    fake.script.extend([raw_response(502, PROXY_PAGE, "text/html")] * 2)
    with pytest.raises(UnexpectedResponse) as caught:
        client.token_info()
    assert caught.value.status_code == 502
    assert "HTML page" in str(caught.value)
    assert "502 Bad Gateway" in caught.value.snippet
    assert fake.paths()[-2:] == ["/ramal/token-info", "/ramal/token-info"]
    fake.script.append(raw_response(502, PROXY_PAGE, "text/html"))
    before = len(fake.requests)
    with pytest.raises(UnexpectedResponse):
        client.send_sms("554130600300", "5541999990000", "oi")
    assert len(fake.requests) == before + 1


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"api":"voz","codigo":"000",', "application/json", "malformed JSON"),
        (b"<resposta><codigo>000</codigo>", "text/xml", "malformed XML"),
        (b'["not", "an", "envelope"]', "application/json", "without a 'codigo'"),
        (b'{"codigo": 0}', "application/json", "without a 'codigo'"),
        (PROXY_PAGE, "text/html; charset=utf-8", "HTML page"),
        (b"<html><body>Maintenance</body></html>", "", "HTML page"),
    ],
)
def test_bodies_that_are_not_envelopes(
    fake: FakeDirectcall, body: bytes, content_type: str, expected: str
) -> None:
    client = make_client(fake)
    client.token()
    fake.script.append(raw_response(200, body, content_type))
    with pytest.raises(UnexpectedResponse, match=expected) as caught:
        client.token_info()
    assert caught.value.status_code == 200
    assert isinstance(caught.value, TransportError)


def test_a_005_envelope_is_retried_on_reads_but_not_on_writes(fake: FakeDirectcall) -> None:
    client = make_client(fake)
    client.token()
    fake.script.append(envelope_response("005", "Erro interno, tente novamente"))
    assert client.token_info().account == 7
    fake.script.append(envelope_response("005", "Erro interno, tente novamente"))
    with pytest.raises(ServerConnectionFailure):
        client.send_sms("554130600300", "5541999990000", "oi")


def test_the_unreachable_message_names_the_server() -> None:
    client = Client("http://127.0.0.1:9", "a", "b", max_retries=0, timeout=2)
    with pytest.raises(ServerUnreachable, match=r"http://127\.0\.0\.1:9"):
        client.token()


# --- typed results of endpoints not yet on main (MOVES TO REAL SERVER) ------------------------


def test_place_call_request_carries_the_wire_parameters() -> None:
    config = Client(URL, "a", "b").config
    when = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 10:30 in São Paulo
    operation = ops.place_call(
        "554130600300",
        "5541999990000",
        record=True,
        reverse_dial=True,
        schedule_at=when,
        fields={"CPF": "000.000.000-00", "nome": "João da Silva"},
        zone=config.zone,
    )
    request = build_request(config, operation, "tok")
    sent = dict(parse_qsl(request.content.decode()))
    assert (request.method, str(request.url)) == ("POST", "http://fake.local/voz/call")
    assert sent == {
        "origem": "554130600300",
        "destino": "5541999990000",
        "gravar": "s",
        "inverter_discagem": "s",
        "cron": "24-11-2026-10-30-00",
        "campos[CPF]": "000.000.000-00",
        "campos[nome]": "João da Silva",
        "format": "JSON",
        "access_token": "tok",
    }
    status = build_request(config, ops.call_status("1", "2", None), "tok")
    assert (status.method, status.url.params["origem"], status.content) == ("GET", "1", b"")


def test_a_success_envelope_of_the_wrong_shape_is_an_unexpected_response(fake: FakeDirectcall) -> None:
    client = make_client(fake)
    client.token()
    fake.script.append(envelope_response("000", "OK"))  # no callerid
    with pytest.raises(UnexpectedResponse, match="callerid"):
        client.place_call("554130600300", "5541999990000")


def test_the_async_client_mirrors_the_sync_client() -> None:
    import inspect

    def public(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_") and name not in {"close", "aclose"}
        }

    assert public(AsyncClient) == public(Client)
    assert len(public(Client)) == 21
