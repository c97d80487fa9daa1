"""The text rules of db/text.py through the API: what createPartnerAdmin stores and refuses."""

CREATE = """mutation($input: CreatePartnerAdminInput!) {
  createPartnerAdmin(input: $input) { partnerAdmin { email displayName } userErrors { field message code } }
}"""


def _input(email: str, name: str) -> dict:
    return {"input": {"email": email, "displayName": name, "role": "SALES_ADMIN"}}


async def test_names_and_emails_are_stored_nfc(api, world):
    # "C" + U+030C COMBINING CARON is stored as the one code point "Č" (U+010C);
    # the e-mail is trimmed, NFC-normalised and lower-cased.
    body = await api(CREATE, _input("  C\u030cEDA@Acme.example ", " C\u030cedomir "), token="t-ana")
    payload = body["data"]["createPartnerAdmin"]
    assert payload["userErrors"] == []
    assert payload["partnerAdmin"] == {"email": "\u010deda@acme.example", "displayName": "\u010cedomir"}
    # The same address spelled decomposed is the same address: taken.
    again = await api(CREATE, _input("c\u030ceda@acme.example", "Other"), token="t-ana")
    assert [e["code"] for e in again["data"]["createPartnerAdmin"]["userErrors"]] == ["EMAIL_TAKEN"]


async def test_a_name_without_a_visible_character_is_refused(api, world):
    # U+200B ZERO WIDTH SPACE and U+00A0 NO-BREAK SPACE draw nothing.
    body = await api(CREATE, _input("zw@acme.example", "\u200b\u00a0"), token="t-ana")
    assert body["data"]["createPartnerAdmin"] == {
        "partnerAdmin": None,
        "userErrors": [
            {
                "field": ["input", "displayName"],
                "message": "The display name must contain a visible character.",
                "code": "INVALID_INPUT",
            }
        ],
    }


async def test_a_control_character_is_bad_user_input_before_any_sql(api, world):
    body = await api(CREATE, _input("nul@acme.example", "Bad\u0000Name"), token="t-ana")
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "U+0000" in body["errors"][0]["message"]
    assert api.last_statements == 0
