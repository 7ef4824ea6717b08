"""Every knob ramal has, in one object, each one an environment variable ``RAMAL_<NAME>``.

Settings are read once at start-up and passed down explicitly; nothing else in the package reads
the environment, so a test can build a complete, isolated configuration in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Retention settings stop at a century: a longer span would overflow date arithmetic (and mean "forever",
# which is what 0 says where it is allowed).
MAX_RETENTION_DAYS = 36_500


class Settings(BaseSettings):
    """Runtime configuration. Field ``x`` is set by ``RAMAL_X``."""

    model_config = SettingsConfigDict(env_prefix="RAMAL_", extra="ignore")

    # --- storage -----------------------------------------------------------------------------
    database_url: str = Field(
        default="sqlite:///ramal.db",
        description="SQLAlchemy URL: sqlite:///path.db (default) or postgresql://user@host/db",
    )
    migrate_on_start: bool = Field(default=True, description="`ramal serve` runs migrations first")

    # --- HTTP --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    http_workers: int = Field(default=1, ge=1, description="uvicorn worker processes for `serve`")
    public_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Base URL written into links ramal hands out (recordings); no trailing slash",
    )
    max_form_bytes: int = Field(default=1_048_576, description="Largest urlencoded body accepted")
    max_upload_bytes: int = Field(default=8_388_608, description="Largest multipart body accepted")

    # --- auth --------------------------------------------------------------------------------
    token_ttl_seconds: int = Field(default=3600, ge=1, description="Access token lifetime")
    token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a process may trust a token it has already validated "
        "(0 disables); bounds how late a revocation is seen by other processes",
    )

    # --- background work ---------------------------------------------------------------------
    embedded_workers: bool = Field(default=True, description="`serve` also runs the worker loops")
    worker_poll_seconds: float = Field(default=0.2, gt=0, description="Idle sleep of worker loops")

    # --- callbacks (delivery engine) -----------------------------------------------------------
    callback_allow_networks: str = Field(
        default="",
        description="Comma-separated CIDRs callbacks may target although private/loopback "
        "(e.g. 127.0.0.0/8 for local development); empty = public addresses only",
    )
    callback_connect_timeout_seconds: float = Field(default=5.0, gt=0, description="Webhook connect timeout")
    callback_total_timeout_seconds: float = Field(default=15.0, gt=0, description="Webhook total timeout")
    callback_concurrency: int = Field(default=128, ge=1, description="Deliveries in flight per process")
    callback_endpoint_concurrency: int = Field(
        default=64, ge=1, description="Deliveries in flight per endpoint per process (slow ones wait)"
    )
    callback_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a claimed delivery is reserved before others may retry it"
    )
    callback_poll_seconds: float = Field(default=0.05, gt=0, description="Dispatcher idle poll interval")
    callback_retry_scale: float = Field(
        default=1.0, gt=0, description="Multiplies the retry schedule (compress it in tests/sandbox)"
    )
    callback_pause_after_hours: float = Field(
        default=72.0, gt=0, description="Pause an endpoint that has failed continuously this long"
    )
    callback_secret_overlap_hours: float = Field(
        default=24.0, ge=0, description="After a secret rotation, the old secret also signs this long"
    )
    callback_metrics_port: int | None = Field(
        default=None, description="`ramal worker` serves Prometheus metrics on 127.0.0.1:PORT when set"
    )

    # --- observability -----------------------------------------------------------------------
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    access_log: bool = Field(
        default=False,
        description="One log line per API request (method, path, codigo, ms; never parameters)",
    )

    # --- accounts ----------------------------------------------------------------------------
    default_timezone: str = Field(default="America/Sao_Paulo", description="Zone of new accounts")

    # --- statement ---------------------------------------------------------------------------
    statement_page_size: int = Field(
        default=50, ge=1, le=1000, description="Rows per page of /extrato/* (paginas counts these)"
    )
    statement_retention_days: int = Field(
        default=90,
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="Call details kept, and the longest range a statement accepts",
    )

    # --- sandbox / recordings (used by traffic) ----------------------------------------------
    data_dir: Path = Field(default=Path("ramal-data"), description="Recordings and uploaded audio")
    sandbox_speed: float = Field(
        default=1.0,
        gt=0,
        le=100_000,
        description="Sandbox time compression: 1000 makes a 60 s call last 60 ms of wall time",
    )
    recording_retention_days: int = Field(
        default=90,
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="Days a call recording stays downloadable before the purge",
    )
    call_retention_days: int = Field(
        default=0,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days call records (statement rows, custom fields, recordings) are kept; 0 = forever",
    )

    event_retention_days: int = Field(
        default=90,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days callback events (with their deliveries and attempt log) are kept once nothing "
        "of them is pending; 0 = forever",
    )

    def normalized_database_url(self) -> str:
        """Map the plain ``postgresql://`` scheme to the psycopg 3 driver SQLAlchemy should use."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
