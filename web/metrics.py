"""Prometheus metrics of the server (scraped at ``/metrics``).

Operation names come from clients, so they are admitted as label values only
while they look like names and the set stays small; anything else counts as
``other``. Metrics are per process (run one scrape target per worker).
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "partnerhub_requests_total",
    "GraphQL requests by operation and HTTP status.",
    ["operation", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "partnerhub_request_seconds",
    "GraphQL request latency by operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ERRORS = Counter("partnerhub_errors_total", "GraphQL errors by code.", ["code"], registry=REGISTRY)
SQL_STATEMENTS = Histogram(
    "partnerhub_sql_statements",
    "SQL statements per GraphQL request.",
    buckets=(1, 2, 5, 10, 20, 50, 100),
    registry=REGISTRY,
)
POOL_IN_USE = Gauge("partnerhub_db_pool_checked_out", "Database connections in use.", registry=REGISTRY)
POOL_SIZE = Gauge("partnerhub_db_pool_size", "Database connections held by the pool.", registry=REGISTRY)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_OPERATIONS = 200
_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label value for a client-chosen operation name."""
    if not name:
        return "anonymous"
    if name in _seen:
        return name
    if _NAME.match(name) and len(_seen) < _MAX_OPERATIONS:
        _seen.add(name)
        return name
    return "other"


def observe(*, operation: str | None, status: int, seconds: float, statements: int, codes: list[str]) -> None:
    """Record one request."""
    label = operation_label(operation)
    REQUESTS.labels(label, str(status)).inc()
    LATENCY.labels(label).observe(seconds)
    SQL_STATEMENTS.observe(statements)
    for code in codes:
        ERRORS.labels(code or "UNKNOWN").inc()


def sample_pool(pool) -> None:
    """Update the pool gauges from a SQLAlchemy pool (where it reports sizes)."""
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    if callable(checked_out):
        POOL_IN_USE.set(checked_out())
    if callable(size):
        POOL_SIZE.set(size())
