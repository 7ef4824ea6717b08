"""One exception hierarchy for everything the SDK can run into.

``RamalError`` is the root. :class:`ApiError` and its subclasses are envelope answers: they carry the
wire ``codigo`` and ``msg`` unchanged, and the subclass says what the code means so callers can
``except InsufficientBalance`` instead of comparing strings. Transport trouble (unreachable server,
timeouts, a proxy's HTML page, a body that is not an envelope) has its own branch, because retrying or
fixing a URL is a different remedy from fixing a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RamalError(Exception):
    """Root of every error the SDK raises."""


class ConfigurationError(RamalError):
    """The client cannot start: missing credentials or an unusable base URL."""


# --- envelope answers -------------------------------------------------------------------------


class ApiError(RamalError):
    """The service answered with an error envelope (``codigo`` other than the endpoint's success)."""

    def __init__(self, codigo: str, msg: str, envelope: Mapping[str, Any] | None = None) -> None:
        self.codigo = codigo
        self.msg = msg
        self.envelope: dict[str, Any] = dict(envelope or {})
        super().__init__(f"[{codigo}] {msg}")


class ParameterError(ApiError):
    """001: a parameter is invalid or missing (``msg`` names it)."""


class CallRequestFailed(ApiError):
    """002: the call could not be requested."""


class CallNotActive(ApiError):
    """003: the call is not in progress."""


class CallNotFinished(ApiError):
    """004: the call has not finished yet."""


class ServerConnectionFailure(ApiError):
    """005: the service failed internally (its "connection failure"); safe calls are retried."""


class AuthenticationError(ApiError):
    """006: wrong credentials, or an access token that a fresh one could not replace."""


class SmsServerUnreachable(ApiError):
    """007: the service could not reach its SMS server."""


class MessageSendFailed(ApiError):
    """008: the message could not be sent."""


class CodeNotFound(ApiError):
    """009: the ``code`` given does not exist."""


class IdentifierNotFound(ApiError):
    """010: the identifier does not exist or was already cancelled."""


class BillingError(ApiError):
    """011 / 100: the billing service had a problem."""


class TestAccountNotRegistered(ApiError):
    """101: the test account is not registered."""

    __test__ = False  # not a pytest test class, despite the name


class NoCallsRemaining(ApiError):
    """102: no calls of this type remain on the plan."""


class UserNotRegistered(ApiError):
    """200: the user is not registered."""


class InsufficientBalance(ApiError):
    """201: not enough balance."""


ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "001": ParameterError,
    "002": CallRequestFailed,
    "003": CallNotActive,
    "004": CallNotFinished,
    "005": ServerConnectionFailure,
    "006": AuthenticationError,
    "007": SmsServerUnreachable,
    "008": MessageSendFailed,
    "009": CodeNotFound,
    "010": IdentifierNotFound,
    "011": BillingError,
    "100": BillingError,
    "101": TestAccountNotRegistered,
    "102": NoCallsRemaining,
    "200": UserNotRegistered,
    "201": InsufficientBalance,
}


def api_error(codigo: str, msg: str, envelope: Mapping[str, Any] | None = None) -> ApiError:
    """The exception for an error envelope; an unknown code still gives a plain :class:`ApiError`."""
    return ERRORS_BY_CODE.get(codigo, ApiError)(codigo, msg, envelope)


# --- transport and response-shape trouble -----------------------------------------------------


class TransportError(RamalError):
    """The request did not produce an envelope: network failure or a foreign response."""


class ServerUnreachable(TransportError):
    """No connection could be made (wrong URL, server down, DNS failure)."""


class RequestTimeout(TransportError):
    """The server accepted the connection but did not answer in time."""


class UnexpectedResponse(TransportError):
    """The body is not a Directcall envelope: malformed JSON/XML, an HTML page from a proxy, ...

    ``status_code`` and the first bytes of the body (``snippet``) are kept for the error report.
    """

    def __init__(self, message: str, *, status_code: int, snippet: str) -> None:
        self.status_code = status_code
        self.snippet = snippet
        super().__init__(message)


# --- webhooks ---------------------------------------------------------------------------------


class WebhookError(RamalError):
    """A callback request that cannot be trusted or read."""


class InvalidSignature(WebhookError):
    """Missing or wrong Standard Webhooks headers, no matching signature, or a stale timestamp."""


class InvalidPayload(WebhookError):
    """The callback body is not a ``data=<JSON>`` form (or a JSON object) of the expected shape."""
