from __future__ import annotations

import logging

import orjson

from ramal.logs import JSONFormatter


def test_json_formatter_writes_one_object_with_extra_fields() -> None:
    record = logging.LogRecord("ramal.api", logging.INFO, __file__, 1, "POST %s", ("/voz/call",), None)
    record.fields = {"codigo": "000", "ms": 1.5}
    entry = orjson.loads(JSONFormatter().format(record))
    assert entry["message"] == "POST /voz/call"
    assert entry["level"] == "info"
    assert entry["codigo"] == "000"
    assert entry["time"].endswith("+00:00")


def test_json_formatter_keeps_exceptions_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("ramal", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JSONFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in orjson.loads(line)["exception"]
