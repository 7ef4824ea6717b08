"""Every table, as SQLAlchemy Core. Alembic migrations (``store/migrations``) must match this file;
``tests/unit/test_migrations.py`` compares them.

Conventions: times are :class:`UTCDateTime`; public ids are strings (UUIDv7 call ids, 40-hex codes);
internal ids are integers. Custom fields live twice: as JSON on the record (to return them) and as rows
in a ``*_fields`` side table indexed for equality filters over a time range.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from ramal.store.types import JSONText, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- accounts and access --------------------------------------------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Optional paid feature of the statement: listing received calls that were not answered.
    Column("unanswered_statement", Boolean, nullable=False, server_default=false()),
)

pins = Table(
    "pins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("pin", String(32), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("id", "account_id"),  # what calls reference: a pin together with its account
)

pin_numbers = Table(
    "pin_numbers",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("pin_id", Integer, ForeignKey("pins.id"), nullable=False, index=True),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pin_id", Integer, ForeignKey("pins.id"), nullable=False, index=True),
    Column("client_id", String(200), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("credential_id", Integer, ForeignKey("credentials.id"), nullable=False, index=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

_RECORDED: dict[str, Any] = {
    "sqlite_where": text("recording_id IS NOT NULL"),
    "postgresql_where": text("recording_id IS NOT NULL"),
}

# Only calls with a pending sandbox step are due: imported and finished calls (nearly all rows, e.g. a
# million-row CDR import) stay out of the index instead of piling up as NULL entries.
_PENDING: dict[str, Any] = {
    "sqlite_where": text("next_step_at IS NOT NULL"),
    "postgresql_where": text("next_step_at IS NOT NULL"),
}

# --- traffic --------------------------------------------------------------------------------------

calls = Table(
    "calls",
    metadata,
    Column("id", String(36), primary_key=True),  # the wire's callerid (UUIDv7)
    Column("account_id", Integer, nullable=False),
    Column("pin_id", Integer, nullable=False),
    Column("direction", String(8), nullable=False),  # outbound | inbound
    Column("origin", String(32), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # queued ringing answered completed busy ...
    Column("record", Boolean, nullable=False, default=False),
    Column("invert_dial", Boolean, nullable=False, default=False),
    Column("source", String(8), nullable=False),  # api | sandbox | import
    Column("external_id", String(64), nullable=True),  # e.g. Asterisk uniqueid, for idempotent imports
    Column("created_at", UTCDateTime, nullable=False),
    Column("scheduled_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),  # statement time ("inicio")
    Column("answered_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("duration_seconds", Integer, nullable=False, default=0),
    Column("billable_seconds", Integer, nullable=False, default=0),
    Column("end_reason", String(32), nullable=True),
    Column("outcome", String(16), nullable=True),  # carrier's scripted ending, fixed at creation
    Column("recording_id", String(40), nullable=True),
    Column("campos", JSONText, nullable=True),
    Column("next_step_at", UTCDateTime, nullable=True),  # sandbox timeline: when the next state is due
    Column("event_sequence", Integer, nullable=False, default=0),
    # The statement's indexes (services/statement.py): start-ordered per account / pin, carrying the
    # columns tipoFiltro filters on so its COUNT stays index-only; recorded calls get partial ones
    # (list-recordings). Without them a filtered 30-day COUNT reads every row from the table.
    Index("ix_calls_account_started", "account_id", "started_at", "id", "direction", "status"),
    Index("ix_calls_pin_started", "pin_id", "started_at", "id", "direction", "status"),
    Index("ix_calls_account_recorded", "account_id", "started_at", "id", **_RECORDED),
    Index("ix_calls_pin_recorded", "pin_id", "started_at", "id", **_RECORDED),
    Index("ix_calls_next_step", "next_step_at", **_PENDING),
    UniqueConstraint("account_id", "external_id", name="uq_calls_account_external"),
    # A call's pin, of the call's account: one foreign-key check per inserted call where a key for the
    # account and one for the pin took two. PostgreSQL runs each as a query of its own, per row: a
    # third of the server's time in a CDR import (bench/cdr_import.py). The pin's own key keeps the
    # account real.
    ForeignKeyConstraint(["pin_id", "account_id"], ["pins.id", "pins.account_id"]),
)

call_fields = Table(
    "call_fields",
    metadata,
    Column("call_id", String(36), ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(1024), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("pin_id", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    # call_id ends each lookup index so a filtered page (ordered by start, then id) and its COUNT are
    # answered from the index alone (the statement's tie-break is the call id).
    Index("ix_call_fields_account_lookup", "account_id", "key", "value", "started_at", "call_id"),
    Index("ix_call_fields_pin_lookup", "pin_id", "key", "value", "started_at", "call_id"),
    # On SQLite the primary key is the table: a rowid table would keep its rows in one b-tree and the
    # key in another, one b-tree write more per field row (a CDR import writes 600,000 of them per
    # million calls; bench/cdr_import.py). The rows are small, and the lookup indexes already end in
    # the key's columns, so they stay covering.
    sqlite_with_rowid=False,
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("callerid", String(14), nullable=False, index=True),  # shared by one /sms/send's recipients
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("pin_id", Integer, ForeignKey("pins.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # sms | voice
    Column("direction", String(8), nullable=False),  # outbound | inbound
    Column("origin", String(32), nullable=False),
    Column("destination", String(32), nullable=False),
    Column("text", Text, nullable=True),
    Column("audio_id", String(24), nullable=True),
    Column("segments", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("scheduled_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("end_reason", String(32), nullable=True),  # why a message failed: expired, busy, ...
    Column("campos", JSONText, nullable=True),
    Column("next_step_at", UTCDateTime, nullable=True),
    Column("event_sequence", Integer, nullable=False, default=0),
    Index("ix_messages_account_started", "account_id", "started_at", "id"),
    Index("ix_messages_pin_started", "pin_id", "started_at", "id"),
    Index("ix_messages_next_step", "next_step_at"),
)

message_fields = Table(
    "message_fields",
    metadata,
    Column("message_id", String(36), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", String(1024), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("pin_id", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Index("ix_message_fields_account_lookup", "account_id", "key", "value", "started_at", "message_id"),
    Index("ix_message_fields_pin_lookup", "pin_id", "key", "value", "started_at", "message_id"),
)

audios = Table(
    "audios",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("storage_key", String(200), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("call_id", String(36), ForeignKey("calls.id"), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("storage_key", String(200), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("duration_seconds", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("purged_at", UTCDateTime, nullable=True),
)

# --- callbacks and the outbox ---------------------------------------------------------------------

callback_endpoints = Table(
    "callback_endpoints",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("pin_id", Integer, ForeignKey("pins.id"), nullable=True),
    Column("kind", String(8), nullable=False),  # voice | sms
    Column("url", Text, nullable=False),
    Column("secret", String(64), nullable=False),
    Column("previous_secret", String(64), nullable=True),
    Column("previous_secret_expires_at", UTCDateTime, nullable=True),
    Column("state", String(16), nullable=False),  # active | paused | disabled | removed
    Column("created_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime, nullable=True),
    Column("failing_since", UTCDateTime, nullable=True),
    Column("state_reason", Text, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("id", String(36), primary_key=True),  # UUIDv7: time-ordered, the webhook-id header
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("pin_id", Integer, ForeignKey("pins.id"), nullable=False),
    Column("subject_type", String(8), nullable=False),  # call | message
    Column("subject_id", String(36), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_events_created", "created_at"),  # the retention purge's walk
    Index("ix_events_subject", "subject_id", "sequence"),
    Index("ix_events_account_created", "account_id", "created_at"),
)

# The outbox proper: one row per event not yet fanned out to its endpoints' deliveries, deleted when
# it is (migration 0006). A "fanned out" flag on the event was an update of the whole row (its payload
# included) into all of its indexes, since the flag was indexed; a delete writes no new row version
# and no index entry, and the queue stays as small as its backlog. The columns the fan-out matches
# endpoints by are copied here, so it never reads the events table; ``id`` is the queue's order. No
# foreign key, as in the delivery queue below: an event and its outbox row are written together.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),  # events.id
    Column("account_id", Integer, nullable=False),
    Column("pin_id", Integer, nullable=False),
    Column("subject_type", String(8), nullable=False),
    Column("subject_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Index("ix_outbox_subject", "subject_id", "sequence"),  # "an earlier event not fanned out yet"
)

# The delivery queue has no foreign keys (migration 0004): the dispatcher alone writes it, from the
# event and endpoint rows it read in the same transaction; endpoints are never deleted (removal is a
# state), and the one place that deletes events, the retention purge
# (``DeliveryRepository.purge_finished``), deletes their attempts and deliveries first. A check per
# row was most of the cost of the queue's inserts on PostgreSQL.
#
# On PostgreSQL (migration 0005), a row's lease is written in place and its result leaves the queue's
# indexes: every update there writes a new row version, and one that finds no room on its page, or
# changes an indexed column, adds an entry to every index. Pages are left half empty, so a lease (no
# indexed column) stays on its page (a HOT update: no index entry), and the two queue indexes hold
# pending rows only, so a delivered row's version enters neither. Half the WAL of a steady-state step,
# and 30 % of its server time (docs/benchmarks.md). SQLite updates rows in place and only the
# indexes whose columns changed: it keeps full indexes.
_PENDING_DELIVERY = text("state = 'pending'")
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, index=True),  # events.id
    Column("endpoint_code", String(40), nullable=False),  # callback_endpoints.code
    Column("subject_id", String(36), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | failed | gone
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index("ix_deliveries_due", "state", "next_attempt_at", postgresql_where=_PENDING_DELIVERY),
    Index(
        "ix_deliveries_endpoint_subject",
        "endpoint_code",
        "subject_id",
        "sequence",
        postgresql_where=_PENDING_DELIVERY,
    ),
    postgresql_with={"fillfactor": 50},
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, nullable=False, index=True),  # deliveries.id
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("response_snippet", Text, nullable=True),
    Column("error", Text, nullable=True),
)
