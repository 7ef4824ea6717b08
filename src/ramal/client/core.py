"""What the sync and async clients share: configuration, request building, retry and token policy.

The clients differ only in how they wait (``time.sleep`` vs ``asyncio.sleep``, a thread lock vs an
asyncio lock); every decision (which errors are retried, how long to back off, when a token is due
for renewal, what an httpx failure means to a user) is made here, once.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import ValidationError

from ramal.client.envelope import SUCCESS, check, decode
from ramal.client.errors import (
    AuthenticationError,
    ConfigurationError,
    RamalError,
    RequestTimeout,
    ServerUnreachable,
    TransportError,
    UnexpectedResponse,
    api_error,
)
from ramal.client.models import DEFAULT_TIMEZONE, Token
from ramal.client.operations import Operation

DEFAULT_BASE_URL = "https://api.directcallsoft.com"
DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_RETRIES = 2
RETRYABLE_HTTP_STATUSES = frozenset({502, 503, 504})  # a proxy could not reach a healthy upstream
TOKEN_REFRESH_MARGIN = 60.0  # renew this long before expiry (at most a tenth of the lifetime)
ASSUMED_TOKEN_LIFETIME = 3600  # when the server does not say (the real service's JWTs live 1 h)
OutputFormat = Literal["json", "xml"]
T = TypeVar("T")
SERVER_FAILURE = "005"
AUTHENTICATION_FAILED = "006"


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    client_id: str
    client_secret: str
    timeout: float
    max_retries: int
    backoff: float
    output: OutputFormat
    zone: ZoneInfo


def resolve_config(
    base_url: str | None,
    client_id: str | None,
    client_secret: str | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    backoff: float = 0.25,
    output: OutputFormat = "json",
    timezone: str = DEFAULT_TIMEZONE,
) -> ClientConfig:
    """Arguments first, then ``RAMAL_URL`` / ``RAMAL_CLIENT_ID`` / ``RAMAL_CLIENT_SECRET``."""
    url = (base_url or os.environ.get("RAMAL_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base URL {url!r} must start with http:// or https://")
    client_id = client_id or os.environ.get("RAMAL_CLIENT_ID")
    client_secret = client_secret or os.environ.get("RAMAL_CLIENT_SECRET")
    if not client_id or not client_secret:
        missing = "client_id" if not client_id else "client_secret"
        raise ConfigurationError(f"{missing} missing: pass it to the client or set RAMAL_{missing.upper()}")
    if output not in ("json", "xml"):
        raise ConfigurationError(f"output format {output!r}: use 'json' or 'xml'")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {timezone!r}: use an IANA name") from None
    return ClientConfig(url, client_id, client_secret, timeout, max_retries, backoff, output, zone)


def build_request(config: ClientConfig, operation: Operation[Any], token: str | None) -> httpx.Request:
    """The HTTP request of ``operation``: form body on POST, query string on GET (contract §1)."""
    params = dict(operation.params)
    params[operation.format_param] = config.output.upper()
    if token is not None:
        params["access_token"] = token
    url = config.base_url + operation.path
    if operation.method == "GET":
        return httpx.Request("GET", url, params=params)
    if operation.files:
        return httpx.Request("POST", url, data=params, files=operation.files)
    return httpx.Request("POST", url, data=params)


def parse_result(config: ClientConfig, operation: Operation[T], envelope: dict[str, Any]) -> T:
    """The typed result of a successful envelope; a missing or mistyped member is the server's fault."""
    try:
        return operation.parse(check(envelope, operation.success), config.zone)
    except ValidationError as error:
        fields = ", ".join(".".join(str(part) for part in item["loc"]) for item in error.errors())
        raise UnexpectedResponse(
            f"{config.base_url}{operation.path} answered codigo {envelope['codigo']} without the expected "
            f"members ({fields}): {error.error_count()} problem(s)",
            status_code=200,
            snippet=str(envelope)[:200],
        ) from None


def transport_error(config: ClientConfig, error: httpx.TransportError, url: str | None = None) -> RamalError:
    """A user-facing error for an httpx failure, naming the server (or ``url``) and what to check."""
    target = url or config.base_url
    if isinstance(error, httpx.UnsupportedProtocol):
        return ConfigurationError(f"cannot use URL {target}: {error}")
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        hint = "is the server running and RAMAL_URL right?" if url is None else "is that host reachable?"
        return ServerUnreachable(f"cannot connect to {target} ({error or type(error).__name__}): {hint}")
    if isinstance(error, httpx.TimeoutException):
        return RequestTimeout(f"{target} did not answer within {config.timeout:g} s")
    return TransportError(f"connection to {target} failed: {error or type(error).__name__}")


def download_error(response: httpx.Response) -> RamalError | None:
    """Why a recording download did not yield audio, if it did not.

    The service answers a missing or expired recording with an envelope (``010``): that becomes its
    :class:`ApiError`; any other non-audio answer (an HTML page, a 5xx) is an UnexpectedResponse.
    """
    media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if response.status_code in (200, 206) and not media.startswith(("application/json", "text/")):
        return None
    try:
        envelope = decode(response)
    except UnexpectedResponse:
        envelope = None
    if envelope is not None and envelope["codigo"] not in SUCCESS:
        return api_error(envelope["codigo"], str(envelope.get("msg", "")), envelope)
    snippet = response.content[:200].decode("utf-8", "replace")
    return UnexpectedResponse(
        f"{response.request.url} answered HTTP {response.status_code} ({media or 'no content type'}), "
        f"not audio: {snippet!r}",
        status_code=response.status_code,
        snippet=snippet,
    )


def retry_delay(
    config: ClientConfig, operation: Operation[Any], failure: RamalError | dict[str, Any], attempt: int
) -> float | None:
    """Seconds to wait before resending after ``failure`` (an error or an envelope), or ``None``.

    A failed connection never reached the server, so any request may be resent. Anything that may
    have reached it (a timeout while waiting, a proxy's 502, a ``005`` envelope) is resent only for
    ``safe`` operations: placing a call twice is worse than reporting an error.
    """
    if attempt >= config.max_retries:
        return None
    if isinstance(failure, dict):
        retry = operation.safe and failure.get("codigo") == SERVER_FAILURE
    elif isinstance(failure, ServerUnreachable):
        retry = True
    elif isinstance(failure, UnexpectedResponse):
        retry = operation.safe and failure.status_code in RETRYABLE_HTTP_STATUSES
    else:
        retry = operation.safe and isinstance(failure, TransportError)
    if not retry:
        return None
    return float(config.backoff * 2**attempt * (0.5 + random.random()))  # jitter around the step


class TokenState:
    """The cached access token and when it is due for renewal (monotonic clock).

    Not synchronised itself: the clients guard renewals with their own lock and re-check
    :meth:`usable` inside it, so many callers that find the token stale cause one request.
    """

    def __init__(self) -> None:
        self.token: Token | None = None
        self.renew_at = 0.0

    def usable(self) -> Token | None:
        if self.token is not None and time.monotonic() < self.renew_at:
            return self.token
        return None

    def store(self, token: Token) -> Token:
        lifetime = float(token.expires_in or ASSUMED_TOKEN_LIFETIME)
        margin = min(TOKEN_REFRESH_MARGIN, lifetime / 10)
        self.token = token
        self.renew_at = time.monotonic() + lifetime - margin
        return token

    def discard(self, rejected: str) -> None:
        """Forget the token the server refused, unless another caller already replaced it."""
        if self.token is not None and self.token.access_token == rejected:
            self.token = None


def refused_again(envelope: dict[str, Any]) -> AuthenticationError:
    """The error for a ``006`` that a freshly issued token did not cure (no third attempt)."""
    msg = (
        f"{envelope.get('msg', '')} (refused again with a freshly issued access token: "
        "not an expired token but something these credentials may not do)"
    )
    return AuthenticationError(AUTHENTICATION_FAILED, msg, envelope)


def refused_credentials(error: AuthenticationError, config: ClientConfig) -> AuthenticationError:
    return AuthenticationError(
        error.codigo,
        f"{error.msg} (request_token refused client_id {config.client_id!r} at {config.base_url})",
        error.envelope,
    )
