"""The SDK and the client CLI against a real ``ramal serve`` process, over real HTTP.

Covers tokens, calls, SMS and voice messages, statements, callback registration and real signed
deliveries to ``ramal listen``. Failures a real server will not produce on demand are injected with
the in-test fake (tests/client/).

One server (SQLite) serves the whole module: the SDK is a client, and what it sees does not depend on
the server's database, which the server's own tests cover on both backends. Tests that count token
requests read the server's Prometheus counter before and after.
"""

from __future__ import annotations

import asyncio
import csv
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.client import (
    AsyncClient,
    AuthenticationError,
    CallNotActive,
    CallStatus,
    Client,
    CodeNotFound,
    IdentifierNotFound,
    MessageStatus,
    ParameterError,
    Recording,
    ServerUnreachable,
    StatementRow,
)
from ramal.store.database import Database
from ramal.store.tables import access_tokens
from tests.e2e.conftest import Server, free_port, start_server, stop_server
from tests.mp3_samples import mp3_bytes

T = TypeVar("T")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")

TOKEN_TTL = 2  # seconds; the client renews a tenth of the lifetime early, so after 1.8 s
SANDBOX_SPEED = 100  # sandbox seconds per real second
NUMBER = "554130600300"
TALKS_TEN_MINUTES = "5541999990004"  # sandbox table: answered, talks 600 sandbox seconds (6 s here)


@dataclass
class Sandbox:
    server: Server
    database_url: str
    client_id: str
    client_secret: str
    pin: str

    def client(self, **options: object) -> Client:
        return Client(self.server.url, self.client_id, self.client_secret, **options)  # type: ignore[arg-type]

    def tokens_issued(self) -> int:
        """Successful /request_token answers, from the server's own Prometheus counter."""
        metrics = httpx.get(f"{self.server.url}/metrics").text
        found = re.search(r'ramal_requests_total\{codigo="000",endpoint="/request_token"\} (\S+)', metrics)
        return int(float(found.group(1))) if found else 0

    def revoke_all_tokens(self) -> None:
        """What expiry looks like to a client whose clock says the token is still good."""
        database = Database.from_url(self.database_url)
        with database.write() as connection:
            connection.execute(access_tokens.delete())
        database.dispose()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    workdir = tmp_path_factory.mktemp("sdk-e2e")
    database_url = f"sqlite:///{workdir / 'ramal.db'}"
    server = start_server(
        database_url,
        workdir,
        RAMAL_TOKEN_TTL_SECONDS=str(TOKEN_TTL),
        RAMAL_TOKEN_CACHE_SECONDS="0",
        RAMAL_SANDBOX_SPEED=str(SANDBOX_SPEED),
        RAMAL_WORKER_POLL_SECONDS="0.05",
        RAMAL_CALLBACK_ALLOW_NETWORKS="127.0.0.0/8",  # `ramal listen` receives on loopback
    )
    created = server.ramal("account", "create", "SDK", "--admin", "--number", "554130600300", "--json")
    yield Sandbox(
        server, database_url, str(created["client_id"]), str(created["client_secret"]), str(created["pin"])
    )
    stop_server(server)


@pytest.mark.parametrize("output", ["json", "xml"])
def test_token_and_token_info_are_typed(sandbox: Sandbox, output: str) -> None:
    with sandbox.client(output=output) as client:
        token = client.token()
        info = client.token_info()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token.access_token)
    assert (token.token_type, token.expires_in) == ("Bearer", TOKEN_TTL)
    assert (info.pin, info.admin, info.timezone) == (sandbox.pin, True, "America/Sao_Paulo")
    assert isinstance(info.account, int)


def test_token_renewed_across_a_real_expiry(sandbox: Sandbox) -> None:
    before = sandbox.tokens_issued()
    with sandbox.client() as client:
        first = client.token().access_token
        client.token_info()
        time.sleep(TOKEN_TTL + 0.2)  # the first token has now expired on the server
        client.token_info()
        assert client.token().access_token != first
    assert sandbox.tokens_issued() - before == 2


def test_a_refused_token_is_renewed_once_and_the_call_resent(sandbox: Sandbox) -> None:
    before = sandbox.tokens_issued()
    with sandbox.client() as client:
        client.token_info()
        sandbox.revoke_all_tokens()
        assert client.token_info().pin == sandbox.pin
    assert sandbox.tokens_issued() - before == 2


def test_concurrent_threads_renew_once(sandbox: Sandbox) -> None:
    before = sandbox.tokens_issued()
    client = sandbox.client()
    barrier = threading.Barrier(12)
    failures: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            client.token_info()
        except BaseException as error:  # pragma: no cover - asserted below
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert failures == []
    assert sandbox.tokens_issued() - before == 1


async def test_concurrent_tasks_renew_once(sandbox: Sandbox) -> None:
    before = sandbox.tokens_issued()
    async with AsyncClient(sandbox.server.url, sandbox.client_id, sandbox.client_secret) as client:
        infos = await asyncio.gather(*(client.token_info() for _ in range(12)))
        sandbox.revoke_all_tokens()
        again = await asyncio.gather(*(client.token_info() for _ in range(12)))
    assert {info.pin for info in infos + again} == {sandbox.pin}
    assert sandbox.tokens_issued() - before == 2


def test_wrong_credentials(sandbox: Sandbox) -> None:
    with (
        Client(sandbox.server.url, sandbox.client_id, "wrong") as client,
        pytest.raises(AuthenticationError, match="request_token refused client_id") as caught,
    ):
        client.token_info()
    assert caught.value.codigo == "006"
    assert caught.value.envelope["access_token"] is False


def test_rotated_credentials_cannot_be_fixed_by_a_refresh(sandbox: Sandbox) -> None:
    own = sandbox.server.ramal("account", "create", "Rotated", "--json")  # not the shared account
    with Client(sandbox.server.url, str(own["client_id"]), str(own["client_secret"])) as client:
        client.token_info()
        sandbox.server.ramal("credentials", "rotate", str(own["pin"]), "--json")  # revokes tokens too
        with pytest.raises(AuthenticationError, match="request_token refused client_id"):
            client.token_info()


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match=re.escape(url)):
        Client(url, "a", "b", backoff=0.01).token()
    assert time.monotonic() - started < 5


# --- calls and messages ----------------------------------------------------------------------


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("output", ["json", "xml"])
def test_a_call_placed_watched_and_hung_up(sandbox: Sandbox, output: str) -> None:
    with sandbox.client(output=output) as client:
        call = client.place_call(NUMBER, TALKS_TEN_MINUTES, record=True, fields={"CPF": "000.000.000-00"})
        assert re.fullmatch(r"[0-9a-f-]{36}", call.call_id)
        assert call.message == "Completando a sua ligacao, por favor aguarde!"
        assert call.schedule_id is None

        def answered() -> CallStatus | None:
            (leg,) = client.call_status(NUMBER, TALKS_TEN_MINUTES, call_id=call.call_id)
            return leg if leg.status == "atendida" else None

        leg = wait_until(answered, "the call to be answered")
        assert leg.call_id == call.call_id
        assert leg.phone_digits == TALKS_TEN_MINUTES
        assert leg.started_at is not None
        assert leg.started_at.tzinfo == ZoneInfo("America/Sao_Paulo")
        assert abs(leg.started_at - datetime.now(UTC)) < timedelta(minutes=5)
        assert isinstance(leg.duration, timedelta)
        ended = client.end_call(NUMBER, TALKS_TEN_MINUTES, call_id=call.call_id)
        assert (ended.call_id, ended.status) == (call.call_id, "finalizada")
        with pytest.raises(CallNotActive) as caught:
            client.end_call(NUMBER, TALKS_TEN_MINUTES, call_id=call.call_id)
        assert caught.value.codigo == "003"


def test_a_scheduled_call(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        call = client.place_call(NUMBER, "5541999990010", schedule_at=datetime.now(UTC) + timedelta(days=1))
        assert call.schedule_id == call.call_id
        assert call.message.startswith("Ligacao agendada com sucesso para")
        scheduled = client.scheduled_call(NUMBER, call.call_id)
        assert (scheduled.situation, scheduled.schedule_id, scheduled.call) == (
            "pendente",
            call.call_id,
            None,
        )


def test_a_bad_number_is_a_parameter_error(sandbox: Sandbox) -> None:
    with sandbox.client() as client, pytest.raises(ParameterError) as caught:
        client.place_call(NUMBER, "12")
    assert caught.value.codigo == "001"
    assert "destino" in caught.value.msg


@pytest.mark.parametrize("output", ["json", "xml"])
def test_sms_sent_and_delivered(sandbox: Sandbox, output: str) -> None:
    with sandbox.client(output=output) as client:
        sent = client.send_sms(
            NUMBER, ["5541999995678", "5541999995679"], "Olá, João", fields={"pedido": "42"}
        )
        assert re.fullmatch(r"\d{14}", sent.message_id)
        assert sent.destinations == ["5541999995678", "5541999995679"]
        assert sent.message == f"001 - Mensagem enviada com sucessso - CALLER-ID: {sent.message_id}"

        def delivered() -> MessageStatus | None:
            status = client.message_status(sent.message_id)
            return status if all(r.status == "entregue" for r in status.recipients) else None

        status = wait_until(delivered, "both SMS to be delivered")
        assert status.message_id == sent.message_id
        assert [r.destination for r in status.recipients] == sent.destinations
        first = status.recipients[0]
        assert (first.kind, first.segments, first.description) == ("texto", 1, "Entregue ao aparelho")
        assert first.delivered_at is not None
        assert first.scheduled_for is None


def test_voice_message_with_uploaded_audio_and_cancellation(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        direct = client.send_voice_message(NUMBER, "5541999995674", audio=mp3_bytes())  # multipart upload
        assert re.fullmatch(r"\d{14}", direct.message_id)
        uploaded = client.upload_audio(mp3_bytes())
        assert re.fullmatch(r"[0-9a-f]{24}", uploaded.audio_id)
        later = datetime.now(UTC) + timedelta(days=1)
        voice = client.send_voice_message(
            NUMBER, "5541999995670", audio_id=uploaded.audio_id, schedule_at=later
        )
        (recipient,) = client.message_status(voice.message_id).recipients
        assert (recipient.kind, recipient.status) == ("voz", "agendada")
        canceled = client.cancel_message(voice.message_id)
        assert canceled.destinations == ["5541999995670"]
        with pytest.raises(IdentifierNotFound) as caught:
            client.cancel_message(voice.message_id)
        assert caught.value.codigo == "010"


def test_received_messages(sandbox: Sandbox) -> None:
    sandbox.server.ramal(
        "simulate", "inbound-sms", "--to", NUMBER, "--from", "5541988887777", "--text", "Oi!", "--json"
    )
    with sandbox.client() as client:
        page = client.received_messages()
    assert page.page == 1
    assert page.pages >= 1
    mine = [m for m in page.messages if m.origin == "5541988887777"]
    assert [(m.destination, m.text) for m in mine] == [(NUMBER, "Oi!")]
    assert mine[0].received_at is not None


# --- the CLI as a client ---------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("RAMAL_URL", sandbox.server.url)
    monkeypatch.setenv("RAMAL_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", sandbox.client_secret)
    monkeypatch.setenv("RAMAL_CONFIG", str(tmp_path / "absent.toml"))
    return sandbox


def token_works(url: str, token: str) -> bool:
    return httpx.post(f"{url}/ramal/token-info", data={"access_token": token}).json()["codigo"] == "000"


def test_cli_token(cli_env: Sandbox) -> None:
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 0, result.output
    assert token_works(cli_env.server.url, result.stdout.strip())
    as_json = runner.invoke(app, ["token", "--json"])
    assert '"expires_in": 2' in as_json.stdout


def test_cli_call_and_sms(cli_env: Sandbox) -> None:
    placed = runner.invoke(app, ["call", "place", NUMBER, "5541999990011", "--record", "--campo", "CPF=1"])
    assert placed.exit_code == 0, placed.output
    call_id = placed.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", call_id)
    status = runner.invoke(app, ["call", "status", NUMBER, "5541999990011", "--callerid", call_id, "--json"])
    assert status.exit_code == 0, status.output
    assert orjson.loads(status.stdout)[0]["call_id"] == call_id
    as_json = orjson.loads(invoke_ok("call", "place", NUMBER, TALKS_TEN_MINUTES, "--json"))
    ended = runner.invoke(app, ["call", "end", NUMBER, TALKS_TEN_MINUTES, "--callerid", as_json["callerid"]])
    assert ended.exit_code == 0, ended.output
    assert ended.stdout.split()[0] == as_json["callerid"]
    sms = orjson.loads(
        invoke_ok("sms", "send", NUMBER, "5541999995671", "5541999995672", "--text", "Oi", "--json")
    )
    assert sms["destino"] == ["5541999995671", "5541999995672"]
    assert invoke_ok("sms", "status", sms["callerid"]).strip()
    voice = invoke_ok("sms", "send", NUMBER, "5541999995673", "--text", "Seu pedido chegou", "--voice")
    assert re.fullmatch(r"\d{14}", voice.strip())
    bad = runner.invoke(app, ["sms", "send", NUMBER, "12", "--text", "Oi"])
    assert bad.exit_code == 1
    assert "ParameterError: [001]" in one_line(bad.stderr)
    assert "Traceback" not in bad.output


def invoke_ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_profiles_from_the_config_file(
    cli_env: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[default]\nurl = "http://127.0.0.1:1"\n\n[sandbox]\nurl = "{cli_env.server.url}"\n'
        f'client_id = "{cli_env.client_id}"\nclient_secret = "{cli_env.client_secret}"\n'
    )
    monkeypatch.setenv("RAMAL_CONFIG", str(config))
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", "wrong")  # the named profile wins over the environment
    result = runner.invoke(app, ["token", "--profile", "sandbox"])
    assert result.exit_code == 0, result.output
    assert token_works(cli_env.server.url, result.stdout.strip())
    missing = runner.invoke(app, ["token", "--profile", "nope"])
    assert missing.exit_code == 1
    assert "profile 'nope' not found" in missing.stderr


def one_line(text: str) -> str:
    return " ".join(text.split())  # Rich wraps long messages at the terminal width


def test_cli_wrong_credentials_exit_1_without_traceback(
    cli_env: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", "wrong")
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 1
    assert "AuthenticationError: [006]" in one_line(result.stderr)
    assert "Traceback" not in result.output
    debug = runner.invoke(app, ["--debug", "token"])
    assert debug.exit_code != 0
    assert isinstance(debug.exception, AuthenticationError)


def test_cli_unreachable_server(cli_env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAMAL_URL", url)
    result = runner.invoke(app, ["token"])
    assert result.exit_code == 1
    assert f"ServerUnreachable: cannot connect to {url}" in one_line(result.stderr)


def test_cli_as_a_real_subprocess(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {
        **sandbox.server.env,
        "RAMAL_URL": sandbox.server.url,
        "RAMAL_CLIENT_ID": sandbox.client_id,
        "RAMAL_CLIENT_SECRET": sandbox.client_secret,
        "RAMAL_CONFIG": str(tmp_path / "absent.toml"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ramal", "token"], env=env, capture_output=True, timeout=60, check=True
    )
    assert token_works(sandbox.server.url, done.stdout.decode().strip())
    failed = subprocess.run(
        [sys.executable, "-m", "ramal", "token"],
        env={**env, "RAMAL_CLIENT_SECRET": "wrong"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 1
    assert b"AuthenticationError" in failed.stderr
    assert b"Traceback" not in failed.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "ramal", "--debug", "token"],
        env={**env, "RAMAL_CLIENT_SECRET": "wrong"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert debug.returncode != 0
    assert b"Traceback" in debug.stderr


# --- statement ----------------------------------------------


@pytest.fixture(scope="module")
def seeded(sandbox: Sandbox) -> dict[str, Any]:
    """1,200 seeded calls on one account; the busiest pin's credentials and the covered span."""
    return sandbox.server.ramal("dev", "seed", "--calls", "1200", "--accounts", "1", "--days", "5", "--json")


def seeded_client(seeded: dict[str, Any], sandbox: Sandbox, **options: object) -> Client:
    return Client(sandbox.server.url, str(seeded["client_id"]), str(seeded["client_secret"]), **options)  # type: ignore[arg-type]


def seeded_span(seeded: dict[str, Any]) -> tuple[datetime, datetime]:
    return (
        datetime.strptime(str(seeded["dataInicial"]), "%Y%m%d%H%M%S"),
        datetime.strptime(str(seeded["dataFinal"]), "%Y%m%d%H%M%S"),
    )


def raw_statement_rows(sandbox: Sandbox, seeded: dict[str, Any], **params: str) -> list[dict[str, Any]]:
    """Every row as the API sends it, page by page, without the SDK (a fresh token per page: the
    sandbox's tokens live 2 s)."""
    rows: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        token = httpx.post(
            f"{sandbox.server.url}/request_token",
            data={"client_id": seeded["client_id"], "client_secret": seeded["client_secret"]},
        ).json()["access_token"]
        answer = httpx.post(
            f"{sandbox.server.url}/extrato/list",
            data={
                "access_token": token,
                "dataInicial": seeded["dataInicial"],
                "dataFinal": seeded["dataFinal"],
                "pagina": str(page),
                **params,
            },
            timeout=30,
        ).json()
        rows += answer["msg"]
        page, pages = page + 1, answer["paginas"]
    return rows


@pytest.mark.parametrize("output", ["json", "xml"])
def test_iter_statement_walks_1000_plus_rows(sandbox: Sandbox, seeded: dict[str, Any], output: str) -> None:
    start, end = seeded_span(seeded)
    with seeded_client(seeded, sandbox, output=output) as client:
        rows = list(client.iter_statement(start, end, include_fields=True))
    api = raw_statement_rows(sandbox, seeded, **{"campos[search]": "1"})
    assert len(rows) == len(api) == seeded["pin_calls"] > 1_000
    assert [row.call_id for row in rows] == [row["callerid"] for row in api]
    for row, wire in zip(rows, api, strict=True):
        assert row.fields == wire["campos"]
        assert row.started_at == datetime.strptime(wire["inicio"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=SAO_PAULO
        )
        assert (row.status, row.direction, row.pin) == (wire["status"], wire["direcao"], wire["pin"])
        assert row.billable_seconds == int(wire["segundos_tarifados"])
        assert (row.recording_url or "") == wire["gravacao_link"]


def test_statement_filters(sandbox: Sandbox, seeded: dict[str, Any]) -> None:
    start, end = seeded_span(seeded)
    with seeded_client(seeded, sandbox) as client:
        first = client.statement(start, end, include_fields=True).rows[0]
        by_id = client.statement(start, end, call_id=first.call_id).rows
        assert [row.call_id for row in by_id] == [first.call_id]
        cpf = first.fields["CPF"]
        same_cpf = list(client.iter_statement(start, end, fields={"CPF": cpf}, include_fields=True))
        assert same_cpf
        assert all(row.fields["CPF"] == cpf for row in same_cpf)
        recordings = client.statement(start, end, recordings_only=True, show_player=True)
        assert recordings.rows
        assert all(isinstance(row, Recording) and row.recording_url for row in recordings.rows)
        assert recordings.rows[0].player is not None
        past_the_end = client.statement(start, end, page=recordings.pages + 1000)
        assert past_the_end.rows == []


def test_a_recorded_call_downloads_from_its_statement_row(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        call = client.place_call(NUMBER, "5541999990020", record=True, fields={"pedido": "7"})
        today = date.today()

        def recorded() -> StatementRow | None:
            rows = client.statement(
                today - timedelta(days=1), today + timedelta(days=1), call_id=call.call_id
            ).rows
            return rows[0] if rows and rows[0].recording_status == "disponivel" else None

        row = wait_until(recorded, "the recording to be available", timeout=60)
        audio = client.download_recording(row)
    assert audio[:4] in (b"RIFF", b"ID3\x03", b"ID3\x04") or audio[:2] == b"\xff\xfb"


def test_cli_csv_export_equals_the_api_rows(
    sandbox: Sandbox, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAMAL_URL", sandbox.server.url)
    monkeypatch.setenv("RAMAL_CLIENT_ID", str(seeded["client_id"]))
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", str(seeded["client_secret"]))
    monkeypatch.setenv("RAMAL_CONFIG", str(tmp_path / "absent.toml"))
    start, end = (
        f"{value[:4]}-{value[4:6]}-{value[6:8]} {value[8:10]}:{value[10:12]}:{value[12:]}"
        for value in (str(seeded["dataInicial"]), str(seeded["dataFinal"]))
    )
    target = tmp_path / "extrato.csv"
    result = runner.invoke(
        app, ["extrato", "--from", start, "--to", end, "--csv", str(target), "--with-campos"]
    )
    assert result.exit_code == 0, result.output
    with target.open(encoding="utf-8", newline="") as handle:
        exported = list(csv.DictReader(handle))
    api = raw_statement_rows(sandbox, seeded, **{"campos[search]": "1"})
    assert exported == [
        {key: orjson.dumps(value).decode() if key == "campos" else value for key, value in row.items()}
        for row in api
    ]
    as_json = runner.invoke(app, ["extrato", "--from", start, "--to", end, "--json", "--with-campos"])
    assert orjson.loads(as_json.stdout) == api


def statement_requests(sandbox: Sandbox) -> int:
    metrics = httpx.get(f"{sandbox.server.url}/metrics").text
    found = re.search(r'ramal_requests_total\{codigo="000",endpoint="/extrato/list"\} (\S+)', metrics)
    return int(float(found.group(1))) if found else 0


def test_iter_statement_fetches_pages_only_as_they_are_consumed(
    sandbox: Sandbox, seeded: dict[str, Any]
) -> None:
    start, end = seeded_span(seeded)
    with seeded_client(seeded, sandbox) as client:
        before = statement_requests(sandbox)
        rows = client.iter_statement(start, end)
        first_ten = [next(rows) for _ in range(10)]
        assert statement_requests(sandbox) - before == 1
        assert len(first_ten) + sum(1 for _ in rows) == seeded["pin_calls"]
        assert statement_requests(sandbox) - before == -(-int(seeded["pin_calls"]) // 50)


async def test_async_iter_statement(sandbox: Sandbox, seeded: dict[str, Any]) -> None:
    start, end = seeded_span(seeded)
    async with AsyncClient(
        sandbox.server.url, str(seeded["client_id"]), str(seeded["client_secret"])
    ) as client:
        rows = [row async for row in client.iter_statement(start, end)]
    assert len(rows) == seeded["pin_calls"]


def test_message_statement(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        sent = client.send_sms(NUMBER, "5541999995690", "extrato", fields={"lote": "9"})
        today = date.today()
        rows = list(
            client.iter_message_statement(
                today - timedelta(days=1),
                today + timedelta(days=1),
                message_id=sent.message_id,
                include_fields=True,
            )
        )
    assert [(row.message_id, row.destination, row.kind) for row in rows] == [
        (sent.message_id, "5541999995690", "texto")
    ]
    assert rows[0].fields == {"lote": "9"}
    assert rows[0].started_at is not None


def test_cli_extrato_table_and_filters(
    sandbox: Sandbox, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAMAL_URL", sandbox.server.url)
    monkeypatch.setenv("RAMAL_CLIENT_ID", str(seeded["client_id"]))
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", str(seeded["client_secret"]))
    monkeypatch.setenv("RAMAL_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("COLUMNS", "250")
    start, end = seeded_span(seeded)
    span = ["--from", start.strftime("%Y-%m-%d"), "--to", end.strftime("%Y-%m-%d")]
    api = raw_statement_rows(sandbox, seeded)
    table = runner.invoke(app, ["extrato", *span, "--page", "2"])
    assert table.exit_code == 0, table.output
    assert api[50]["callerid"] in table.stdout
    assert api[49]["callerid"] not in table.stdout
    assert f"page 2 of {-(-len(api) // 50)}" in table.stderr
    one = runner.invoke(app, ["extrato", *span, "--callerid", api[7]["callerid"], "--json"])
    assert [row["callerid"] for row in orjson.loads(one.stdout)] == [api[7]["callerid"]]
    nothing = runner.invoke(app, ["extrato", *span, "--callerid", "nao-existe", "--json"])
    assert orjson.loads(nothing.stdout) == []


# --- callbacks ---------------------------------------------


def test_callback_registration(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        added = client.add_callback("https://example.com/hooks/ramal")  # codigo 001 is success here
        assert re.fullmatch(r"[0-9a-f]{40}", added.code)
        assert added.secret is not None
        assert added.secret.startswith("whsec_")
        sms = client.add_callback("https://user:pw@example.com/sms", kind="sms")
        listed = {endpoint.code: endpoint for endpoint in client.list_callbacks()}
        assert listed[added.code].state == "ativo"
        assert listed[added.code].created_at is not None
        assert sms.code not in listed
        assert [e.url for e in client.list_callbacks(kind="sms")] == ["https://***@example.com/sms"]
        assert client.remove_callback(added.code).startswith("URL de Callback removida")
        with pytest.raises(IdentifierNotFound):
            client.remove_callback(added.code)
        with pytest.raises(CodeNotFound):
            client.remove_callback("0" * 40)


class Listener:
    """``ramal listen --json`` as a subprocess on ``port``; its stdout lines collected by a thread."""

    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ramal", "listen", "--port", str(port), "--secret", secret, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(self._ready, "ramal listen to start")

    def _ready(self) -> bool | None:
        try:
            httpx.get(f"http://127.0.0.1:{self.port}/")
        except httpx.TransportError:
            return None
        return True

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(orjson.loads(line))

    def events_of(self, call_id: str, timeout: float = 60) -> list[dict[str, Any]]:
        """The events of one call, up to its final one; every one must carry a good signature."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not events or not events[-1]["final"]:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line.get("signature") == "ok", line
            if line["event"]["callerid"] == call_id:
                events.append(line["event"])
        return events

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def test_ramal_listen_receives_a_calls_signed_events(sandbox: Sandbox) -> None:
    port = free_port()
    with sandbox.client() as client:
        endpoint = client.add_callback(f"http://127.0.0.1:{port}/ramal")
        assert endpoint.secret is not None
        listener = Listener(port, endpoint.secret)
        try:
            call = client.place_call(NUMBER, "5541999990030", fields={"CPF": "000.000.000-00"})
            events = listener.events_of(call.call_id)
        finally:
            listener.stop()
            client.remove_callback(endpoint.code)
    assert events[0]["evento"] == "call.queued"
    assert events[-1]["evento"] == "call.completed"
    assert [e["final"] for e in events].count(True) == 1
    assert all(e["campos"] == {"CPF": "000.000.000-00"} for e in events)


def test_cli_callbacks_add_list_remove(cli_env: Sandbox) -> None:
    added = runner.invoke(app, ["callbacks", "add", "https://example.com/cli-hook"])
    assert added.exit_code == 0, added.output
    code = added.stdout.strip()
    assert "whsec_" in added.stderr
    listed = orjson.loads(invoke_ok("callbacks", "list", "--json"))
    assert [e["url"] for e in listed if e["code"] == code] == ["https://example.com/cli-hook"]
    invoke_ok("callbacks", "remove", code)
    again = runner.invoke(app, ["callbacks", "remove", code])
    assert again.exit_code == 1
    assert "IdentifierNotFound: [010]" in one_line(again.stderr)
