"""Every bad input of /sms/send and friends: the documented code, a clear msg, nothing stored."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ramal.container import Container
from ramal.store.tables import audios, events, message_fields, messages
from tests.conftest import Account
from tests.mp3_samples import mp3_bytes

ORIGIN = "554130600300"
GOOD = {"origem": ORIGIN, "destino": "5541999995678", "texto": "Oi"}
MP3 = ("a.mp3", mp3_bytes(), "audio/mpeg")

CASES: list[tuple[str, dict[str, str], dict[str, Any] | None, str, str]] = [
    ("no origem", {"origem": ""}, None, "001", "Parametro origem nao informado"),
    ("bad origem", {"origem": "12345"}, None, "001", "Parametro origem invalido"),
    ("no destino", {"destino": ""}, None, "001", "Parametro destino nao informado"),
    ("short destino", {"destino": "5541"}, None, "001", "Parametro destino 5541 invalido"),
    ("letters", {"destino": "55419999x5678"}, None, "001", "destino 55419999x5678 invalido"),
    ("no such country", {"destino": "999999999999"}, None, "001", "destino 999999999999 invalido"),
    ("foreign without 00", {"destino": "14155550123"}, None, "001", "internacionais comecam com 00"),
    ("one bad among good", {"destino": "5541999995678;123"}, None, "001", "destino 123 invalido"),
    (
        "unknown tipo",
        {"tipo": "fax"},
        None,
        "001",
        "Parametro tipo invalido: use um destes valores: texto, voz",
    ),
    ("texto over 700", {"texto": "a" * 701}, None, "001", "Parametro texto excede 700 caracteres"),
    ("no texto", {"texto": ""}, None, "001", "Parametro texto nao informado"),
    ("cron format", {"cron": "2026-12-01 10:00:00"}, None, "001", "Parametro cron invalido"),
    ("cron date", {"cron": "31-02-2027-10-00-00"}, None, "001", "Parametro cron invalido"),
    ("cron too far", {"cron": "01-01-2030-10-00-00"}, None, "001", "mais de um ano"),
    ("attempts 0", {"tipo": "voz", "num_tentativas": "0"}, None, "001", "Parametro num_tentativas invalido"),
    (
        "attempts 11",
        {"tipo": "voz", "num_tentativas": "11"},
        None,
        "001",
        "Parametro num_tentativas invalido",
    ),
    ("window hour", {"enviar_de": "24"}, None, "001", "Parametro enviar_de invalido"),
    ("window text", {"enviar_ate": "tarde"}, None, "001", "Parametro enviar_ate invalido"),
    ("empty window", {"enviar_de": "8", "enviar_ate": "8"}, None, "001", "janela de envio e vazia"),
    ("short_number", {"short_number": "talvez"}, None, "001", "Parametro short_number invalido"),
    ("id_origem", {"id_origem": "x"}, None, "001", "Parametro id_origem invalido"),
    ("too many campos", {f"campos[k{i}]": "v" for i in range(31)}, None, "001", "no maximo 30 campos"),
    ("huge campo", {"campos[nome]": "x" * 1025}, None, "001", "o valor excede 1024 caracteres"),
    ("long campo key", {f"campos[{'k' * 65}]": "v"}, None, "001", "a chave deve ter de 1 a 64"),
    ("audio on sms", {}, {"audio": MP3}, "001", "so valem para tipo=voz"),
    ("audio_id on sms", {"audio_id": "ab" * 12}, None, "001", "so valem para tipo=voz"),
    ("voice with two", {"tipo": "voz"}, {"audio": MP3}, "001", "exatamente um entre texto, audio e audio_id"),
    ("voice with none", {"tipo": "voz", "texto": ""}, None, "001", "exatamente um entre texto"),
    ("unknown audio_id", {"tipo": "voz", "texto": "", "audio_id": "ab" * 12}, None, "001", "nao cadastrado"),
    (
        "audio as a field",
        {"tipo": "voz", "texto": "", "audio": "x.mp3"},
        None,
        "001",
        "envie o MP3 como arquivo",
    ),
    (
        "not an mp3",
        {"tipo": "voz", "texto": ""},
        {"audio": ("a.mp3", b"RIFF" + b"\0" * 900, "audio/mpeg")},
        "001",
        "o arquivo nao e um MP3",
    ),
    (
        "empty mp3",
        {"tipo": "voz", "texto": ""},
        {"audio": ("a.mp3", b"", "audio/mpeg")},
        "001",
        "arquivo vazio",
    ),
    (
        "mp3 over 4 MB",
        {"tipo": "voz", "texto": ""},
        {"audio": ("a.mp3", mp3_bytes(10_060), "audio/mpeg")},
        "001",
        "o arquivo excede 4 MB",
    ),
    (
        "empty csv",
        {"destino": ""},
        {"destino_csv": ("l.csv", b"", "text/csv")},
        "001",
        "nao contem nenhum numero",
    ),
    (
        "csv without numbers",
        {"destino": ""},
        {"destino_csv": ("l.csv", b"nome;telefone\n", "text/csv")},
        "001",
        "nao contem nenhum numero",
    ),
    (
        "csv and destino",
        {},
        {"destino_csv": ("l.csv", b"5541999995678", "text/csv")},
        "001",
        "Informe destino ou destino_csv, nao ambos",
    ),
    (
        "csv with a bad number",
        {"destino": ""},
        {"destino_csv": ("l.csv", b"5541999995678,99", "text/csv")},
        "001",
        "destino 99 invalido",
    ),
]


def count(container: Container, table: Any) -> int:
    with container.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("fields", "files", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_send_is_refused_whole(
    client: TestClient,
    account: Account,
    container: Container,
    fields: dict[str, str],
    files: dict[str, Any] | None,
    code: str,
    message: str,
) -> None:
    data = {"access_token": account.token, **GOOD, **fields}
    response = client.post("/sms/send", data=data, files=files)
    assert response.status_code == 200
    answer = orjson.loads(response.content)
    assert (answer["codigo"], answer["status"]) == (code, "erro")
    assert message in answer["msg"]
    assert (answer["api"], answer["modulo"]) == ("sms", "enviar")
    for table in (messages, events, message_fields, audios):
        assert count(container, table) == 0
    audio_dir = container.settings.data_dir / "audio"
    assert not audio_dir.exists() or not any(p.suffix == ".mp3" for p in audio_dir.iterdir())


def test_without_token_is_006(client: TestClient, container: Container) -> None:
    answer = orjson.loads(client.post("/sms/send", data=GOOD).content)
    assert answer["codigo"] == "006"
    assert count(container, messages) == 0


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "Parametro audio nao informado"),
        ({"audio": ("a.mp3", b"ID3 and then text", "audio/mpeg")}, "o arquivo nao e um MP3"),
        ({"audio": ("a.mp3", mp3_bytes(10_060), "audio/mpeg")}, "o arquivo excede 4 MB"),
    ],
)
def test_bad_audio_upload(
    client: TestClient, account: Account, container: Container, files: dict[str, Any] | None, message: str
) -> None:
    answer = orjson.loads(
        client.post("/sms/audio", data={"access_token": account.token}, files=files).content
    )
    assert answer["codigo"] == "001"
    assert message in answer["msg"]
    assert count(container, audios) == 0


def test_a_failed_transaction_leaves_no_audio_file(
    client: TestClient, account: Account, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MP3 is written before the rows; if the rows fail, the file goes too."""

    def broken(*_: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("ramal.store.repositories.messages.MessageRepository.add", broken)
    data = {"access_token": account.token, **GOOD, "texto": "", "tipo": "voz"}
    answer = orjson.loads(client.post("/sms/send", data=data, files={"audio": MP3}).content)
    assert answer["codigo"] == "005"
    assert count(container, audios) == 0
    assert list((container.settings.data_dir / "audio").iterdir()) == []


def test_too_many_recipients(client: TestClient, account: Account, container: Container) -> None:
    numbers = ";".join(f"554199{n:07d}" for n in range(10_001))
    answer = orjson.loads(
        client.post("/sms/send", data={"access_token": account.token, **GOOD, "destino": numbers}).content
    )
    assert answer["codigo"] == "001"
    assert "No maximo 10000 destinos por envio" in answer["msg"]
    assert count(container, messages) == 0
