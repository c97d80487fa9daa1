"""The benchmark's own judgements (bench/run.py): what it calls "same bytes" and which targets it calls met."""

from __future__ import annotations

from bench.run import _issue14_targets, _same_data_bytes, check_targets

FLOOR = b'{"data":{"customers":{"nodes":[]}}}'


def test_the_servers_cost_extensions_after_the_data_are_not_a_difference() -> None:
    assert _same_data_bytes(FLOOR, FLOOR)
    assert _same_data_bytes(FLOOR, b'{"data":{"customers":{"nodes":[]}},"extensions":{"cost":{"requested":301}}}')


def test_any_other_difference_is() -> None:
    assert not _same_data_bytes(FLOOR, None)  # the server's page was not fetched
    assert not _same_data_bytes(FLOOR, b'{"data":{"customers":{"nodes":[1]}}}')
    assert not _same_data_bytes(FLOOR, b'{"data":{"customers":{"nodes":[]}},"errors":[]}')
    assert not _same_data_bytes(FLOOR, b'{"data":{"customers":{"nodes":[]}}} ')


def _case(p50: float) -> dict:
    return {"p50_ms": p50}


def test_issue_14_targets_are_judged_at_their_bounds() -> None:
    by = {
        ("postgresql", 10000): {
            "postgraphile": {"throughput": {"partnerhub": {"rps": 500.0}, "PostGraphile": {"rps": 1600.0}}},
        },
        ("postgresql", 100000): {
            "cases": {
                "1 list": _case(10.3),
                "2a deep": _case(19.99),
                "2b deep+filtered": _case(9.5),
                "3 detail": _case(5.1),
            }
        },
        ("sqlite", 100000): {"cases": {"4 dashboard": _case(1000.0)}},
    }
    got = {target: (status, evidence) for target, status, evidence in _issue14_targets(by)}
    # 500 / 1600 = 0.3125 → 0.31, below 1.0
    ratio = got["issue 14: (0) partnerhub / PostGraphile ≥ 1.0 req/s at 16 connections, PostgreSQL 10k"]
    assert ratio == ("NOT met", "500.0 / 1600.0 req/s = 0.31")
    assert got["issue 14: p50 of (1)–(3) < 20 ms at 100k, PostgreSQL"][0] == "met"  # max 19.99 < 20
    assert got["issue 14: (4) SQLite 100k < 1 s"] == ("NOT met", "1000.0 ms")  # <: 1000 is not
    by[("postgresql", 100000)]["cases"]["2a deep"] = _case(20.0)
    got = {target: status for target, status, _ in _issue14_targets(by)}
    assert got["issue 14: p50 of (1)–(3) < 20 ms at 100k, PostgreSQL"] == "NOT met"


def test_the_list_page_rate_is_judged_once_by_issue_6s_row_at_its_bound() -> None:
    run = {"db": "postgresql", "customers": 10000, "cases": {}, "throughput": {"1 list": {"rps": 200.0, "errors": 0}}}
    targets = [(target, status, evidence) for target, status, evidence in check_targets([run]) if "200 req/s" in target]
    assert targets == [("(1) ≥ 200 req/s, PostgreSQL 10k", "met", "200.0 req/s")]  # ≥: 200 is met, and one row


def test_a_run_without_postgraphile_or_100k_judges_nothing_it_did_not_measure() -> None:
    assert _issue14_targets({("postgresql", 10000): {"postgraphile": {"skipped": "npm unreachable"}}}) == []
