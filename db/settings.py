"""Settings read from the environment (SPEC §6): one validated object.

The server reads them once, at start-up (``web.app.create_app`` and the
``partnerhub`` command line), and hands that object down; a bad value stops
it there with the variable named, instead of failing the first request that
needs it. :func:`get_settings` reads the environment at each call so that
tests and the CLI may set variables after this module is loaded.

``PARTNERHUB_TODAY`` is the one value read per request (:func:`today`): it
is the demo and test clock, which tests move between requests of one app.

Every setting is a field below with its environment variable and a
``description``; the README's settings table is :func:`settings_table`
(``tests/test_settings.py`` keeps them equal).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///partnerhub.db"
ENV_PREFIX = "PARTNERHUB_"


def _env(name: str) -> str:
    """The environment variable of the field ``name``: ``PARTNERHUB_<NAME>``."""
    return ENV_PREFIX + name.upper()


class Settings(BaseSettings):
    """Every tunable of the server, with its environment variable (see the README table)."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        # An empty variable means "unset", as it did before pydantic-settings.
        env_ignore_empty=True,
        case_sensitive=True,
        populate_by_name=True,
    )

    # -- database
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        description="database; `postgresql://user@host:5432/db` for PostgreSQL (asyncpg), "
        "`sqlite:///path` for SQLite (aiosqlite)",
    )
    db_pool_size: int = Field(
        20,
        ge=1,
        validation_alias=_env("db_pool_size"),
        description="PostgreSQL connections per process (plus 10 overflow); a request holds one while it runs",
    )
    statement_timeout_ms: int = Field(
        5000,
        ge=1,
        validation_alias=_env("statement_timeout_ms"),
        description="longest a request's SQL statement may run (PostgreSQL `statement_timeout`; on SQLite "
        "a progress-handler deadline per statement); past it the request answers `QUERY_TIMEOUT`",
    )
    # -- domain rules
    today: dt.date | None = Field(
        None,
        validation_alias=_env("today"),
        description='fixes "today" (ISO date) for demos and tests; unset: the UTC date',
    )
    expiring_soon_days: int = Field(
        30, ge=0, validation_alias=_env("expiring_soon_days"), description="window of the `EXPIRING_SOON` status"
    )
    inactive_days: int = Field(
        30, ge=0, validation_alias=_env("inactive_days"), description="window of the `NO_RECENT_ACTIVITY` status"
    )
    low_assignment_min_days: int = Field(
        30,
        ge=0,
        validation_alias=_env("low_assignment_min_days"),
        description="a line counts for low assignment once its plan is this many days old",
    )
    low_assignment_factor: float = Field(
        0.5,
        ge=0,
        validation_alias=_env("low_assignment_factor"),
        description="a line is low below this fraction of the partner's median assignment rate",
    )
    facts_warmer: bool = Field(
        True,
        validation_alias=_env("facts_warmer"),
        description="rebuild the stored analytics of every partner in the background at start and after each "
        "UTC midnight, instead of in the first request of the day",
    )
    launch_base_url: str = Field(
        "https://admin.partnerhub.example",
        validation_alias=_env("launch_base_url"),
        description="base of `Customer.launchUrl`",
    )
    # -- query bounds and cost
    max_depth: int = Field(12, ge=1, validation_alias=_env("max_depth"), description="deepest query accepted")
    max_aliases: int = Field(30, ge=1, validation_alias=_env("max_aliases"), description="most aliases in one query")
    max_tokens: int = Field(
        5000, ge=1, validation_alias=_env("max_tokens"), description="most tokens in one query document"
    )
    max_cost: int = Field(
        50_000,
        ge=1,
        validation_alias=_env("max_cost"),
        description="costliest request accepted (`QUERY_TOO_COMPLEX` above it)",
    )
    cost_budget: int = Field(
        250_000,
        ge=1,
        validation_alias=_env("cost_budget"),
        description="cost points a caller's budget holds (at least `PARTNERHUB_MAX_COST`); `RATE_LIMITED` when empty",
    )
    cost_refill_per_second: float = Field(
        5_000.0,
        gt=0,
        validation_alias=_env("cost_refill_per_second"),
        description="cost points a caller's budget regains per second",
    )
    # -- HTTP
    host: str = Field("127.0.0.1", validation_alias=_env("host"), description="bind address of `serve`")
    port: int = Field(8000, ge=0, le=65535, validation_alias=_env("port"), description="port of `serve`")
    max_body_bytes: int = Field(
        1_000_000, ge=1, validation_alias=_env("max_body_bytes"), description="largest request body"
    )
    max_header_bytes: int = Field(
        16_384,
        ge=1024,
        validation_alias=_env("max_header_bytes"),
        description="largest request head (request line and headers); larger: 431, read no further",
    )
    max_headers: int = Field(
        100, ge=1, validation_alias=_env("max_headers"), description="most request headers; more: 431"
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("header_timeout_s"),
        description="seconds a connection may take to send a request's headers before it is closed",
    )
    keep_alive_timeout_s: float = Field(
        5.0,
        gt=0,
        validation_alias=_env("keep_alive_timeout_s"),
        description="seconds an idle keep-alive connection stays open",
    )
    max_concurrency: int = Field(
        256,
        ge=1,
        validation_alias=_env("max_concurrency"),
        description="requests running at once per process; past it new requests get 503",
    )
    max_connections: int = Field(
        1000,
        ge=2,
        validation_alias=_env("max_connections"),
        description="open connections per process; past it the oldest one still sending a request head is closed",
    )
    shutdown_grace_s: float = Field(
        20.0,
        ge=0,
        validation_alias=_env("shutdown_grace_s"),
        description="on SIGTERM, seconds in-flight requests may finish before they and their SQL are cancelled",
    )
    metrics_token: str | None = Field(
        None,
        min_length=16,
        validation_alias=_env("metrics_token"),
        description="bearer token that `GET /metrics` requires; unset: `/metrics` answers 404",
    )
    trusted_documents: Literal["apq", "allow-list"] = Field(
        "apq",
        validation_alias=_env("trusted_documents"),
        description="`apq`: any document runs and may be persisted by its hash (Automatic Persisted Queries); "
        "`allow-list`: only the dashboard's documents (`web/static/documents.json`) and introspection run",
    )
    persisted_queries_cache: int = Field(
        1000,
        ge=1,
        validation_alias=_env("persisted_queries_cache"),
        description="persisted-query documents each process remembers by hash in `apq` mode (least recently "
        "used forgotten first)",
    )
    # -- live events (WebSocket, SPEC §3.3)
    live_max_connections: int = Field(
        5,
        ge=1,
        validation_alias=_env("live_max_connections"),
        description="open live-event WebSocket connections per token per process; one more is closed with 4403",
    )
    live_max_subscriptions: int = Field(
        20,
        ge=1,
        validation_alias=_env("live_max_subscriptions"),
        description="running subscriptions per token per process, over all its connections; one more is "
        "refused with `RATE_LIMITED`",
    )
    live_ping_s: float = Field(
        15.0,
        gt=0,
        validation_alias=_env("live_ping_s"),
        description="seconds between the server's pings on a live-event connection",
    )
    live_recheck_s: float = Field(
        10.0,
        gt=0,
        validation_alias=_env("live_recheck_s"),
        description="seconds between re-checks of a live connection's token and role when no event came "
        "(revoked: closed with 4401; a subscription the role no longer allows: ended with `FORBIDDEN`)",
    )
    live_queue_size: int = Field(
        100,
        ge=1,
        le=100_000,
        validation_alias=_env("live_queue_size"),
        description="events a subscription may fall behind before it is ended with `LIVE_OVERFLOW`",
    )
    log_level: str = Field("info", validation_alias=_env("log_level"), description="log level")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.lower()
        if value not in ("critical", "error", "warning", "info", "debug", "trace"):
            raise ValueError("one of critical, error, warning, info, debug, trace")
        return value

    @field_validator("launch_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _budget_holds_a_request(self) -> Self:
        # A budget smaller than the costliest allowed request would refuse that
        # request forever with RATE_LIMITED, however long the caller waits.
        if self.cost_budget < self.max_cost:
            raise ValueError(
                f"PARTNERHUB_COST_BUDGET ({self.cost_budget}) must be at least PARTNERHUB_MAX_COST ({self.max_cost})"
            )
        return self

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated again (tests and tools)."""
        return type(self).model_validate({**self.model_dump(), **changes})


def env_var(name: str) -> str:
    """The environment variable of the field ``name``."""
    return str(Settings.model_fields[name].validation_alias)


def _problem(error: Any) -> str:
    # Environment values fail under their variable's name, values given in code under the field's.
    loc = error["loc"]
    where = "settings" if not loc else env_var(str(loc[0])) if loc[0] in Settings.model_fields else str(loc[0])
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and loc:
        return f"{where}: {message}: {error['input']!r}"
    return f"{where}: {message}"


def get_settings() -> Settings:
    """Read and validate the settings from the environment now.

    Raises:
        SystemExit: a variable holds a bad value; the message names each one.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit("invalid settings:\n" + "\n".join(_problem(e) for e in exc.errors())) from None


def today() -> dt.date:
    """The server's "today": ``PARTNERHUB_TODAY`` if set, else the UTC date."""
    raw = os.environ.get("PARTNERHUB_TODAY")
    if raw:
        try:
            return dt.date.fromisoformat(raw)
        except ValueError as exc:
            raise SystemExit(f"PARTNERHUB_TODAY: not a date: {raw!r}") from exc
    return dt.datetime.now(dt.UTC).date()


def settings_table() -> str:
    """The README's settings table, one row per field, in declaration order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "unset" if default is None else f"`{default}`"
        rows.append(f"| `{env_var(name)}` | {shown} | {field.description} |")
    return "\n".join(rows)
