"""The body encoder is ``urlencode``'s output, byte for byte, done with a translate table."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ramal.wire.callbacks import render_body, render_data
from tests.delivery.helpers import call_payload

WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=4))
def test_body_is_what_urlencode_writes(campos: dict[str, str]) -> None:
    payload = call_payload("call-1", "answered", campos=campos)
    data = render_data("call.answered", payload, WHEN, "http://ramal.test/")
    text = orjson.dumps(data).replace(b"/", b"\\/").decode()
    assert (
        render_body("call.answered", payload, WHEN, "http://ramal.test/")
        == urlencode({"data": text}).encode()
    )
