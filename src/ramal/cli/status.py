"""``ramal status``: the operator's overview of traffic, recordings and callback health.

What an operator on one box checks first (JOURNEYS.md §2): is traffic flowing, are recordings
piling up or expiring, is any callback endpoint failing or paused. ``--json`` output is a contract.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ramal.cli.common import fail, operator_container, print_json
from ramal.delivery.log import parse_since
from ramal.services.overview import Overview

_BAD = {"failed", "gone", "busy", "no_answer", "paused", "disabled"}
_SIZE_UNITS = ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB"))
SinceOption = Annotated[str, typer.Option("--since", help="Window for the counts: 30m, 24h, 7d or ISO-8601")]


def status(
    since: SinceOption = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    watch: Annotated[
        float | None, typer.Option("--watch", min=0.5, help="Refresh every SECONDS until Ctrl-C")
    ] = None,
) -> None:
    """Traffic, recordings and callback health across every account, at a glance."""
    with operator_container() as container:
        service = container.overview()

        def take() -> Overview:
            try:
                start = parse_since(since, container.clock.now())
            except ValueError as error:
                fail(f"--since {error}")
            return service.snapshot(start)

        if as_json:
            print_json(overview_json(take()))
        elif watch is None:
            Console().print(render(take()))
        else:
            with Live(render(take()), auto_refresh=False) as live:
                while True:  # until Ctrl-C
                    time.sleep(watch)
                    live.update(render(take()), refresh=True)


def overview_json(view: Overview) -> dict[str, Any]:
    age = view.oldest_pending_age
    return {
        "at": view.at.isoformat(),
        "since": view.since.isoformat(),
        "accounts": view.accounts,
        "pins": view.pins,
        "calls": {"by_status": view.calls, "total": sum(view.calls.values()), "live": view.live_calls},
        "messages": {"by_status": view.messages, "total": sum(view.messages.values())},
        "recordings": {
            "kept": view.recordings_kept,
            "bytes": view.recordings_bytes,
            "expiring_7d": view.recordings_expiring,
        },
        "callbacks": {
            "outbox_backlog": view.outbox_backlog,
            "pending": view.deliveries_pending,
            "oldest_pending_seconds": None if age is None else round(age.total_seconds(), 3),
            "given_up": view.deliveries_given_up,
            "endpoints": [
                {
                    "code": health.endpoint.code,
                    "kind": health.endpoint.kind,
                    "url": health.endpoint.url,
                    "state": health.endpoint.state,
                    "failing_since": _iso(health.endpoint.failing_since),
                    "pending": health.pending,
                }
                for health in view.endpoints
            ],
        },
    }


def render(view: Overview) -> Group:
    window = f"since {view.since:%Y-%m-%d %H:%M} UTC"
    summary = Table.grid(padding=(0, 2))
    summary.add_row("accounts / pins", f"{view.accounts} / {view.pins}")
    summary.add_row(f"calls {window}", _counts(view.calls) + f"  (live now: {view.live_calls})")
    summary.add_row(f"messages {window}", _counts(view.messages))
    summary.add_row(
        "recordings",
        f"{view.recordings_kept:,} kept, {_size(view.recordings_bytes)}, "
        f"{view.recordings_expiring:,} expire within 7 days",
    )
    age = view.oldest_pending_age
    summary.add_row(
        "callbacks",
        f"{view.deliveries_pending:,} pending (oldest {_age(age)}), outbox {view.outbox_backlog:,}, "
        f"given up {window}: " + (_counts(view.deliveries_given_up) or "none"),
    )
    endpoints = Table(
        "endpoint", "kind", "url", "state", "pending", "failing since", title="callback endpoints"
    )
    for health in view.endpoints:
        e = health.endpoint
        endpoints.add_row(
            e.code[:12], e.kind, e.url, _mark(e.state), f"{health.pending:,}", _iso(e.failing_since) or ""
        )
    return Group(summary, endpoints) if view.endpoints else Group(summary)


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(
        f"{_mark(name)} {count:,}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1])
    )


def _mark(word: str) -> str:
    return f"[red]{word}[/red]" if word in _BAD else word


def _size(size: int) -> str:
    for scale, unit in _SIZE_UNITS:
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} B"


def _age(age: timedelta | None) -> str:
    if age is None:
        return "none"
    seconds = int(age.total_seconds())
    return (
        f"{seconds}s" if seconds < 120 else f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
