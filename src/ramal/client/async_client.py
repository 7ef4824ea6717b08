"""``AsyncClient``: the asyncio twin of :class:`~ramal.client.Client`, safe to share between tasks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import date, datetime
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from ramal.client import operations as ops
from ramal.client.core import (
    AUTHENTICATION_FAILED,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    OutputFormat,
    TokenState,
    build_request,
    download_error,
    parse_result,
    refused_again,
    refused_credentials,
    resolve_config,
    retry_delay,
    transport_error,
)
from ramal.client.envelope import decode
from ramal.client.errors import AuthenticationError, RamalError
from ramal.client.models import (
    DEFAULT_TIMEZONE,
    AudioUpload,
    Call,
    CallbackEndpoint,
    CallStatus,
    CanceledMessage,
    EndedCall,
    MessagePage,
    MessageRow,
    MessageStatus,
    ReceivedPage,
    ScheduledCall,
    SmsResult,
    StatementPage,
    StatementRow,
    Token,
    TokenInfo,
)
from ramal.client.operations import (
    AudioInput,
    CallbackKind,
    MessageFilters,
    MessageQuery,
    Operation,
    PageT,
    StatementFilters,
    StatementQuery,
)

T = TypeVar("T")


class AsyncClient:
    """A Directcall / ramal API client for asyncio; see :class:`~ramal.client.Client`.

    ``base_url`` defaults to ``RAMAL_URL`` and then to the real service; ``client_id`` and
    ``client_secret`` to ``RAMAL_CLIENT_ID`` / ``RAMAL_CLIENT_SECRET``. The access token is fetched on
    first use, cached, renewed shortly before it expires and once more if the server refuses it;
    concurrent tasks share one renewal. Reads are retried with backoff; writes only when the
    connection was never made. Times are read and written in ``timezone`` (the account's zone).
    """

    def __init__(
        self,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.25,
        output: OutputFormat = "json",
        timezone: str = DEFAULT_TIMEZONE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = resolve_config(
            base_url,
            client_id,
            client_secret,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            output=output,
            timezone=timezone,
        )
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._tokens = TokenState()
        self._token_lock = asyncio.Lock()

    # --- lifecycle -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- auth ----------------------------------------------------------------------------------

    async def token(self) -> Token:
        """The current access token, fetched or renewed if needed."""
        token = self._tokens.usable()
        if token is not None:
            return token
        async with self._token_lock:  # one renewal for every task that found the token stale
            token = self._tokens.usable()
            if token is None:
                token = self._tokens.store(await self._request_token())
            return token

    async def token_info(self) -> TokenInfo:
        """ramal only: the pin, account and time zone behind the token."""
        return await self._execute(ops.token_info())

    # --- calls ---------------------------------------------------------------------------------

    async def place_call(
        self,
        origin: str,
        destination: str,
        *,
        record: bool = False,
        reverse_dial: bool = False,
        schedule_at: datetime | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> Call:
        """Click-to-call: ring ``origin``, then connect it to ``destination``."""
        zone = self.config.zone
        return await self._execute(
            ops.place_call(
                origin,
                destination,
                record=record,
                reverse_dial=reverse_dial,
                schedule_at=schedule_at,
                fields=fields,
                zone=zone,
            )
        )

    async def call_status(
        self, origin: str, destination: str, *, call_id: str | None = None
    ) -> list[CallStatus]:
        """The latest call between the two numbers (or the one ``call_id`` names)."""
        return await self._execute(ops.call_status(origin, destination, call_id))

    async def end_call(self, origin: str, destination: str, *, call_id: str | None = None) -> EndedCall:
        """Hang up a call in progress (``CallNotActive`` if there is none)."""
        return await self._execute(ops.end_call(origin, destination, call_id))

    async def scheduled_call(self, origin: str, schedule_id: str) -> ScheduledCall:
        """A call placed with ``schedule_at``: pending, placed (``.call``) or cancelled."""
        return await self._execute(ops.scheduled_call(origin, schedule_id))

    # --- messages ------------------------------------------------------------------------------

    async def send_sms(
        self,
        origin: str,
        destinations: str | Iterable[str],
        text: str,
        *,
        schedule_at: datetime | None = None,
        fields: Mapping[str, str] | None = None,
        short_number: bool | None = None,
    ) -> SmsResult:
        return await self._execute(
            ops.send_sms(
                origin,
                destinations,
                text,
                schedule_at=schedule_at,
                fields=fields,
                short_number=short_number,
                zone=self.config.zone,
            )
        )

    async def send_voice_message(
        self,
        origin: str,
        destinations: str | Iterable[str],
        *,
        text: str | None = None,
        audio: AudioInput | None = None,
        audio_id: str | None = None,
        attempts: int | None = None,
        send_from_hour: int | None = None,
        send_until_hour: int | None = None,
        schedule_at: datetime | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> SmsResult:
        """A voice message ("torpedo de voz"): ``text`` read aloud, or an MP3 (``audio``/``audio_id``)."""
        return await self._execute(
            ops.send_voice_message(
                origin,
                destinations,
                text=text,
                audio=audio,
                audio_id=audio_id,
                attempts=attempts,
                send_from_hour=send_from_hour,
                send_until_hour=send_until_hour,
                schedule_at=schedule_at,
                fields=fields,
                zone=self.config.zone,
            )
        )

    async def message_status(self, message_id: str) -> MessageStatus:
        return await self._execute(ops.message_status(message_id))

    async def cancel_message(self, message_id: str) -> CanceledMessage:
        return await self._execute(ops.cancel_message(message_id))

    async def upload_audio(self, audio: AudioInput) -> AudioUpload:
        return await self._execute(ops.upload_audio(audio))

    async def received_messages(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        page: int = 1,
        per_page: int | None = None,
    ) -> ReceivedPage:
        """SMS received on the account's numbers (default: the last 24 hours), oldest first."""
        return await self._execute(
            ops.received_messages(start, end, page=page, per_page=per_page, zone=self.config.zone)
        )

    # --- statement -----------------------------------------------------------------------------

    async def statement(
        self,
        start: date | datetime,
        end: date | datetime,
        *,
        page: int = 1,
        **filters: Unpack[StatementFilters],
    ) -> StatementPage:
        """One page of ``/extrato/list`` (``recordings_only=True``: ``/extrato/list-recordings``)."""
        return await self._execute(
            ops.statement(StatementQuery(start, end, **filters), page, self.config.zone)
        )

    def iter_statement_pages(
        self, start: date | datetime, end: date | datetime, **filters: Unpack[StatementFilters]
    ) -> AsyncIterator[StatementPage]:
        """Every page in order, each fetched only when the previous one has been consumed."""
        query = StatementQuery(start, end, **filters)
        return self._pages(lambda number: ops.statement(query, number, self.config.zone))

    async def iter_statement(
        self, start: date | datetime, end: date | datetime, **filters: Unpack[StatementFilters]
    ) -> AsyncIterator[StatementRow]:
        """Every row of the statement, walking the pages lazily."""
        async for page in self.iter_statement_pages(start, end, **filters):
            for row in page.rows:
                yield row

    async def message_statement(
        self,
        start: date | datetime,
        end: date | datetime,
        *,
        page: int = 1,
        **filters: Unpack[MessageFilters],
    ) -> MessagePage:
        """ramal only: one page of SMS and voice messages (``/extrato/list-messages``)."""
        return await self._execute(
            ops.message_statement(MessageQuery(start, end, **filters), page, self.config.zone)
        )

    async def iter_message_statement(
        self, start: date | datetime, end: date | datetime, **filters: Unpack[MessageFilters]
    ) -> AsyncIterator[MessageRow]:
        """ramal only: every SMS and voice message row, walking the pages lazily."""
        query = MessageQuery(start, end, **filters)
        async for page in self._pages(lambda number: ops.message_statement(query, number, self.config.zone)):
            for row in page.rows:
                yield row

    async def download_recording(self, recording: StatementRow | str) -> bytes:
        """The audio behind a row's ``recording_url`` (or a link given directly)."""
        url = recording if isinstance(recording, str) else recording.recording_url
        if not url:
            raise ValueError("this row has no recording")
        try:
            response = await self._http.get(url, follow_redirects=True)
        except httpx.TransportError as error:
            raise transport_error(self.config, error, url) from error
        failure = download_error(response)
        if failure is not None:
            raise failure
        return response.content

    # --- callbacks -----------------------------------------------------------------------------

    async def add_callback(
        self, url: str, *, kind: CallbackKind = "call", pin: str | None = None
    ) -> CallbackEndpoint:
        """Register ``url`` for call events (``kind="call"``) or SMS status (``kind="sms"``)."""
        return await self._execute(ops.add_callback(url, kind=kind, pin=pin))

    async def list_callbacks(self, *, kind: CallbackKind = "call") -> list[CallbackEndpoint]:
        return await self._execute(ops.list_callbacks(kind=kind))

    async def remove_callback(self, code: str, *, kind: CallbackKind = "call") -> str:
        return await self._execute(ops.remove_callback(code, kind=kind))

    # --- machinery -----------------------------------------------------------------------------

    async def _pages(self, operation_for: Callable[[int], Operation[PageT]]) -> AsyncIterator[PageT]:
        """Pages 1, 2, ... each requested only when the previous one has been consumed."""
        for number in itertools.count(1):
            page = await self._execute(operation_for(number))
            yield page
            if number >= page.pages or not page.rows:
                return

    async def _execute(self, operation: Operation[T]) -> T:
        if not operation.auth:
            return parse_result(self.config, operation, await self._send(operation, None))
        token = (await self.token()).access_token
        envelope = await self._send(operation, token)
        if envelope["codigo"] == AUTHENTICATION_FAILED:  # expired or revoked: renew once, resend once
            async with self._token_lock:
                self._tokens.discard(token)
            envelope = await self._send(operation, (await self.token()).access_token)
            if envelope["codigo"] == AUTHENTICATION_FAILED:
                raise refused_again(envelope)
        return parse_result(self.config, operation, envelope)

    async def _request_token(self) -> Token:
        operation = ops.request_token(self.config.client_id, self.config.client_secret)
        try:
            return await self._execute(operation)
        except AuthenticationError as error:
            raise refused_credentials(error, self.config) from None

    async def _send(self, operation: Operation[Any], token: str | None) -> dict[str, Any]:
        """One envelope, resending per the retry policy."""
        attempt = 0
        while True:
            try:
                envelope = await self._exchange(operation, token)
            except RamalError as error:
                delay = retry_delay(self.config, operation, error, attempt)
                if delay is None:
                    raise
            else:
                delay = retry_delay(self.config, operation, envelope, attempt)
                if delay is None:
                    return envelope
            await asyncio.sleep(delay)
            attempt += 1

    async def _exchange(self, operation: Operation[Any], token: str | None) -> dict[str, Any]:
        try:
            response = await self._http.send(build_request(self.config, operation, token))
        except httpx.TransportError as error:
            raise transport_error(self.config, error) from error
        return decode(response)
