"""Prometheus metrics of the HTTP surface (per process; see docs/operations.md)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("ramal_requests_total", "Directcall API requests", ["endpoint", "codigo"])
LATENCY = Histogram(
    "ramal_request_duration_seconds",
    "Directcall API request latency",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}


def observe(endpoint: str, codigo: str, seconds: float) -> None:
    # labels() costs a lock and a tuple build per call; the label sets are few, so keep the children.
    key = (endpoint, codigo)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (REQUESTS.labels(endpoint, codigo), LATENCY.labels(endpoint))
    children[0].inc()
    children[1].observe(seconds)
