"""Settings: one validated object from the environment, documented in the README (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from db.settings import Settings, env_var, get_settings, settings_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_is_the_settings_object():
    text = README.read_text()
    table = text.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert table == settings_table(), "regenerate the README table with db.settings.settings_table()"
    # Every field is a row with its variable and default (the generated table, read back).
    rows = {m[0]: m[1] for m in re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", table, re.M)}
    assert len(rows) == len(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        assert rows[env_var(name)] == ("unset" if field.default is None else f"`{field.default}`")


def test_defaults_are_those_of_before(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(env_var(name), raising=False)
    s = get_settings()
    assert (s.database_url, s.host, s.port, s.log_level, s.db_pool_size) == (
        "sqlite:///partnerhub.db",
        "127.0.0.1",
        8000,
        "info",
        20,
    )
    assert (s.expiring_soon_days, s.inactive_days, s.low_assignment_min_days, s.low_assignment_factor) == (
        30,
        30,
        30,
        0.5,
    )
    assert (s.max_depth, s.max_aliases, s.max_tokens, s.max_body_bytes) == (12, 30, 5000, 1_000_000)
    assert (s.max_cost, s.cost_budget, s.cost_refill_per_second) == (50_000, 250_000, 5000.0)
    assert s.launch_base_url == "https://admin.partnerhub.example"
    # The live-event caps as they were constants of web/live.py and db/events.py.
    assert (s.live_max_connections, s.live_max_subscriptions, s.live_ping_s, s.live_recheck_s, s.live_queue_size) == (
        5,
        20,
        15.0,
        10.0,
        100,
    )


def test_environment_values_are_parsed_and_an_empty_one_is_unset(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("PARTNERHUB_PORT", "9000")
    monkeypatch.setenv("PARTNERHUB_LOG_LEVEL", "WARNING")  # lower-cased for uvicorn
    monkeypatch.setenv("PARTNERHUB_LAUNCH_BASE_URL", "https://x.example/")  # trailing slash dropped
    monkeypatch.setenv("PARTNERHUB_MAX_DEPTH", "")  # empty: the default
    monkeypatch.setenv("PARTNERHUB_TODAY", "2026-01-02")
    s = get_settings()
    assert (s.database_url, s.port, s.log_level, s.launch_base_url, s.max_depth) == (
        "postgresql://db/x",
        9000,
        "warning",
        "https://x.example",
        12,
    )
    assert s.today.isoformat() == "2026-01-02"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PARTNERHUB_PORT", "80a", "PARTNERHUB_PORT: Input should be a valid integer"),
        ("PARTNERHUB_PORT", "70000", "PARTNERHUB_PORT: Input should be less than or equal to 65535"),
        (
            "PARTNERHUB_LOW_ASSIGNMENT_FACTOR",
            "half",
            "PARTNERHUB_LOW_ASSIGNMENT_FACTOR: Input should be a valid number",
        ),
        (
            "PARTNERHUB_STATEMENT_TIMEOUT_MS",
            "0",
            "PARTNERHUB_STATEMENT_TIMEOUT_MS: Input should be greater than or equal to 1",
        ),
        ("PARTNERHUB_LOG_LEVEL", "loud", "PARTNERHUB_LOG_LEVEL: one of critical, error, warning, info, debug, trace"),
        ("PARTNERHUB_TODAY", "tomorrow", "PARTNERHUB_TODAY: Input should be a valid date"),
        ("PARTNERHUB_METRICS_TOKEN", "short", "PARTNERHUB_METRICS_TOKEN: String should have at least 16 characters"),
        (
            "PARTNERHUB_LIVE_MAX_CONNECTIONS",
            "0",
            "PARTNERHUB_LIVE_MAX_CONNECTIONS: Input should be greater than or equal to 1",
        ),
        (
            "PARTNERHUB_LIVE_MAX_SUBSCRIPTIONS",
            "many",
            "PARTNERHUB_LIVE_MAX_SUBSCRIPTIONS: Input should be a valid integer",
        ),
        ("PARTNERHUB_LIVE_PING_S", "0", "PARTNERHUB_LIVE_PING_S: Input should be greater than 0"),
        ("PARTNERHUB_LIVE_RECHECK_S", "-1", "PARTNERHUB_LIVE_RECHECK_S: Input should be greater than 0"),
        ("PARTNERHUB_LIVE_QUEUE_SIZE", "0", "PARTNERHUB_LIVE_QUEUE_SIZE: Input should be greater than or equal to 1"),
        (
            "PARTNERHUB_LIVE_QUEUE_SIZE",
            "100001",
            "PARTNERHUB_LIVE_QUEUE_SIZE: Input should be less than or equal to 100000",
        ),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exc:
        get_settings()
    assert expected in str(exc.value)
    assert repr(value) in str(exc.value)


def test_every_bad_value_is_named_at_once(monkeypatch):
    monkeypatch.setenv("PARTNERHUB_PORT", "x")
    monkeypatch.setenv("PARTNERHUB_MAX_DEPTH", "y")
    with pytest.raises(SystemExit) as exc:
        get_settings()
    lines = str(exc.value).splitlines()
    assert lines[0] == "invalid settings:"
    assert [line.split(":")[0] for line in lines[1:]] == ["PARTNERHUB_MAX_DEPTH", "PARTNERHUB_PORT"]


def test_the_budget_must_hold_the_costliest_request(monkeypatch):
    # budget 100 < max cost 101: a request costing 101 would be refused forever.
    monkeypatch.setenv("PARTNERHUB_MAX_COST", "101")
    monkeypatch.setenv("PARTNERHUB_COST_BUDGET", "100")
    with pytest.raises(SystemExit) as exc:
        get_settings()
    assert "PARTNERHUB_COST_BUDGET (100) must be at least PARTNERHUB_MAX_COST (101)" in str(exc.value)
    # equal is the boundary that passes
    monkeypatch.setenv("PARTNERHUB_COST_BUDGET", "101")
    assert get_settings().cost_budget == 101


def test_replace_validates_again():
    s = get_settings()
    assert s.replace(max_cost=100, cost_budget=100).max_cost == 100
    with pytest.raises(ValueError, match="must be at least"):
        s.replace(cost_budget=1)
    with pytest.raises(ValueError, match="frozen"):
        s.max_cost = 1  # frozen: one object, read once
