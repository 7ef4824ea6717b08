"""The composition root: builds every service once from :class:`Settings` and wires them together.

Nothing else constructs services; tests build a container with a :class:`ManualClock` or fixed ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from ramal.carrier.messages import MessageSimulator, SandboxMessageCarrier
from ramal.carrier.sandbox import SandboxCarrier
from ramal.carrier.simulator import CallSimulator
from ramal.clock import Clock, SystemClock
from ramal.delivery import metrics as delivery_metrics
from ramal.delivery.dispatcher import Dispatcher, dispatcher_for
from ramal.delivery.guard import AddressGuard
from ramal.delivery.log import DeliveryLog
from ramal.ids import IdGenerator, RandomIds
from ramal.loops import Loop
from ramal.recordings.purge import RetentionPurge
from ramal.recordings.service import RecordingService
from ramal.recordings.storage import FilesystemStorage
from ramal.services.accounts import AccountService
from ramal.services.callbacks import CallbackRegistry
from ramal.services.calls import CallService
from ramal.services.imports import CdrImportService
from ramal.services.janitor import TokenJanitor
from ramal.services.messages import MessageService
from ramal.services.overview import OverviewService
from ramal.services.statement import StatementService
from ramal.services.tokens import TokenService
from ramal.settings import Settings
from ramal.store.database import Database


@dataclass
class Container:
    settings: Settings
    database: Database
    clock: Clock
    ids: IdGenerator
    accounts: AccountService
    tokens: TokenService
    statement: StatementService
    recordings: RecordingService
    calls: CallService
    messages: MessageService
    callbacks: CallbackRegistry
    delivery_log: DeliveryLog
    imports: CdrImportService
    extra_loops: list[Loop] = field(default_factory=list)

    def loops(self, *, own_process: bool = False) -> list[Loop]:
        """The background loops a worker process runs (``own_process``: alone, as ``ramal worker``,
        not beside the API in ``ramal serve``)."""
        return [
            TokenJanitor(self.tokens),
            CallSimulator(self.calls, self.settings.worker_poll_seconds),
            MessageSimulator(self.messages, self.settings.worker_poll_seconds),
            self.retention_purge(),
            self.dispatcher(own_process=own_process),
            *self.extra_loops,
        ]

    def retention_purge(self, batch: int = 500) -> RetentionPurge:
        return RetentionPurge(
            self.recordings,
            delivery_log=self.delivery_log,
            event_retention_days=self.settings.event_retention_days,
            call_retention_days=self.settings.call_retention_days,
            batch=batch,
        )

    def dispatcher(self, *, own_process: bool = False) -> Dispatcher:
        return dispatcher_for(self.settings, self.database, self.clock, own_process=own_process)

    def overview(self) -> OverviewService:
        return OverviewService(self.database, self.clock, self.callbacks)

    def close(self) -> None:
        self.database.dispose()


def build_container(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    database: Database | None = None,
) -> Container:
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    database = database or Database.from_url(settings.normalized_database_url())
    delivery_metrics.watch_queue(database, clock)
    recordings = RecordingService(
        database,
        clock,
        ids,
        FilesystemStorage(settings.data_dir),
        retention_days=settings.recording_retention_days,
        public_base_url=settings.public_base_url,
    )
    return Container(
        settings=settings,
        database=database,
        clock=clock,
        ids=ids,
        accounts=AccountService(database, clock, ids, settings.default_timezone),
        tokens=TokenService(database, clock, settings.token_ttl_seconds, settings.token_cache_seconds),
        statement=StatementService(
            database,
            clock,
            page_size=settings.statement_page_size,
            retention_days=settings.statement_retention_days,
        ),
        recordings=recordings,
        calls=CallService(database, clock, ids, SandboxCarrier(), recordings, speed=settings.sandbox_speed),
        messages=MessageService(
            database,
            clock,
            ids,
            FilesystemStorage(settings.data_dir),
            SandboxMessageCarrier(settings.sandbox_speed),
        ),
        callbacks=CallbackRegistry(
            database,
            clock,
            ids,
            AddressGuard.from_setting(settings.callback_allow_networks),
            timedelta(hours=settings.callback_secret_overlap_hours),
        ),
        delivery_log=DeliveryLog(database, clock),
        imports=CdrImportService(database, clock, ids),
    )
