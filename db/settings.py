"""Settings read from the environment (SPEC §6).

Values are read on every call rather than frozen at import, so tests and the
CLI can set ``PARTNERHUB_TODAY`` and the windows after the module is loaded.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///partnerhub.db"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:  # a typo in deployment config must not pass silently
        raise SystemExit(f"{name}: not an integer: {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}: not a number: {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Every tunable of the server, with its environment variable."""

    database_url: str
    host: str
    port: int
    log_level: str
    expiring_soon_days: int
    inactive_days: int
    low_assignment_min_days: int
    low_assignment_factor: float
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_body_bytes: int
    launch_base_url: str
    max_cost: int
    cost_budget: int
    cost_refill_per_second: float


def get_settings() -> Settings:
    """Read the settings from the environment now."""
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        host=os.environ.get("PARTNERHUB_HOST") or "127.0.0.1",
        port=_int("PARTNERHUB_PORT", 8000),
        log_level=(os.environ.get("PARTNERHUB_LOG_LEVEL") or "info").lower(),
        expiring_soon_days=_int("PARTNERHUB_EXPIRING_SOON_DAYS", 30),
        inactive_days=_int("PARTNERHUB_INACTIVE_DAYS", 30),
        low_assignment_min_days=_int("PARTNERHUB_LOW_ASSIGNMENT_MIN_DAYS", 30),
        low_assignment_factor=_float("PARTNERHUB_LOW_ASSIGNMENT_FACTOR", 0.5),
        max_depth=_int("PARTNERHUB_MAX_DEPTH", 12),
        max_aliases=_int("PARTNERHUB_MAX_ALIASES", 30),
        max_tokens=_int("PARTNERHUB_MAX_TOKENS", 5000),
        max_body_bytes=_int("PARTNERHUB_MAX_BODY_BYTES", 1_000_000),
        launch_base_url=(os.environ.get("PARTNERHUB_LAUNCH_BASE_URL") or "https://admin.partnerhub.example").rstrip(
            "/"
        ),
        max_cost=_int("PARTNERHUB_MAX_COST", 50_000),
        cost_budget=_int("PARTNERHUB_COST_BUDGET", 250_000),
        cost_refill_per_second=_float("PARTNERHUB_COST_REFILL_PER_SECOND", 5_000.0),
    )


def today() -> dt.date:
    """The server's "today": ``PARTNERHUB_TODAY`` if set, else the UTC date."""
    raw = os.environ.get("PARTNERHUB_TODAY")
    if raw:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError as exc:
            raise SystemExit(f"PARTNERHUB_TODAY: not a date: {raw!r}") from exc
    return dt.datetime.now(dt.UTC).date()
