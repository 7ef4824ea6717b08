"""The one exception type the edge turns into an error envelope."""

from __future__ import annotations

from typing import Any

from ramal.wire.codes import Code


class WireError(Exception):
    """A request that cannot be served, with the ``codigo`` and ``msg`` the client should see.

    ``extras`` are additional envelope members (e.g. the OAuth-style ``error_description`` some
    clients read on authentication failures).
    """

    def __init__(self, code: Code, msg: str | None = None, **extras: Any) -> None:
        self.code = code
        self.msg = msg if msg is not None else code.default_message
        self.extras = extras
        super().__init__(f"{code.value}: {self.msg}")


def parameter_error(msg: str) -> WireError:
    return WireError(Code.PARAMETER_ERROR, msg)
