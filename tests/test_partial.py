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
