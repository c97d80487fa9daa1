"""SPEC §3.2 partial results: an error in one field nulls that field alone."""


async def test_a_forbidden_root_field_leaves_the_rest_of_the_response(api, world):
    # Sales admins may not read the audit log (SPEC §4): auditLog is null with
    # FORBIDDEN at its path, the viewer beside it still arrives, HTTP 200.
    body = await api("{ viewer { email } auditLog(first: 1) { totalCount } }", token="t-sally")
    assert body["data"] == {"viewer": {"email": "sally@p1.example"}, "auditLog": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["auditLog"], "FORBIDDEN")]


async def test_a_bad_cursor_on_the_customer_list_nulls_only_the_list(api, world):
    body = await api('{ viewer { role } customers(first: 2, after: "x") { totalCount } }', token="t-ana")
    assert body["data"] == {"viewer": {"role": "PARTNER_FULL_ADMIN"}, "customers": None}
    assert body["errors"][0]["path"] == ["customers"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_bad_cursor_in_one_section_leaves_the_kpis_and_other_sections(api, world):
    query = """{
      kpis { totalCustomers }
      analytics(product: MEETINGS) {
        expiring { rows(first: 1, after: "not-a-cursor") { totalCount } }
        overLimit { rows(first: 1) { totalCount } }
      }
    }"""
    body = await api(query, token="t-ana")
    errors = body["errors"]
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [
        (["analytics", "expiring", "rows"], "BAD_USER_INPUT")
    ]
    assert body["data"]["analytics"]["expiring"] == {"rows": None}
    # The fields beside the bad one answer exactly what they answer alone.
    alone = await api(
        "{ kpis { totalCustomers } analytics(product: MEETINGS) { overLimit { rows(first: 1) { totalCount } } } }",
        token="t-ana",
    )
    assert "errors" not in alone
    assert body["data"]["kpis"] == alone["data"]["kpis"]
    assert body["data"]["analytics"]["overLimit"] == alone["data"]["analytics"]["overLimit"]


async def test_as_of_out_of_range_nulls_that_field_alone(api, world):
    # PARTNERHUB_TODAY is 2026-11-25 in the tests: ten years either side is
    # 2016-11-25 … 2036-11-25, both included; one day past either end is refused.
    query = """{ viewer { role }
      ok: kpis(asOf: "2016-11-25") { asOf }
      early: kpis(asOf: "2016-11-24") { asOf }
      late: analytics(product: MEETINGS, asOf: "2036-11-26") { asOf } }"""
    body = await api(query, token="t-ana")
    assert body["data"] == {
        "viewer": {"role": "PARTNER_FULL_ADMIN"},
        "ok": {"asOf": "2016-11-25"},
        "early": None,
        "late": None,
    }
    messages = sorted((e["path"][0], e["message"]) for e in body["errors"])
    assert messages == [
        ("early", "`asOf` must lie within 10 years of today, from 2016-11-25 to 2036-11-25; got 2016-11-24."),
        ("late", "`asOf` must lie within 10 years of today, from 2016-11-25 to 2036-11-25; got 2036-11-26."),
    ]
