"""Prometheus metrics of the server (scraped at ``/metrics`` with ``PARTNERHUB_METRICS_TOKEN``).

Operation names come from clients, so junk must neither grow the label set
nor take the slots of real operations: the dashboard's operations
(``static/documents.js``) always have their label; other names get one only
when sent with a valid token, while they look like names, and up to
:data:`MAX_LEARNED` of them (never evicted); anything else counts as
``other``. Metrics are per process (run one scrape target per worker).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

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
MAX_LEARNED = 200
DOCUMENTS = Path(__file__).resolve().parent / "static" / "documents.js"


def dashboard_operations(path: Path = DOCUMENTS) -> frozenset[str]:
    """The operation names of the dashboard's documents (the keys of ``documents.js``)."""
    if not path.is_file():
        return frozenset()
    return frozenset(re.findall(r"^  ([A-Za-z_][A-Za-z0-9_]*): `", path.read_text(encoding="utf-8"), re.M))


class OperationLabels:
    """Label values for client-chosen operation names, bounded and not evictable."""

    def __init__(self, known: Iterable[str], limit: int = MAX_LEARNED) -> None:
        self.known = frozenset(known)
        self.limit = limit
        self.learned: set[str] = set()

    def label(self, name: str | None, *, authenticated: bool) -> str:
        """The label of ``name``; ``authenticated``: sent with a valid token."""
        if not name:
            return "anonymous"
        if name in self.known or name in self.learned:
            return name
        if authenticated and _NAME.match(name) and len(self.learned) < self.limit:
            self.learned.add(name)
            return name
        return "other"


LABELS = OperationLabels(dashboard_operations())


def observe(
    *, operation: str | None, authenticated: bool, status: int, seconds: float, statements: int, codes: list[str]
) -> None:
    """Record one request."""
    label = LABELS.label(operation, authenticated=authenticated)
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
