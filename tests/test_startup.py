"""What ``partnerhub serve`` says when it starts: a usable token the first time, a usable command later."""

import asyncio

from db.settings import get_settings
from server import _prepare_for_serve, startup_hint


def test_first_start_gives_a_token_and_later_starts_name_a_full_admin(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'partnerhub.db'}")
    monkeypatch.setenv("PARTNERHUB_TODAY", "2026-06-15")
    settings = get_settings()
    # First start: the empty database is seeded; the demo's full admins sort
    # ana.full@… first, and a token is made for her.
    token, email = asyncio.run(_prepare_for_serve(settings))
    assert email == "ana.full@demo.example"
    assert token is not None and token.startswith("ph_")
    first = startup_hint(token, email)
    assert f'{{"Authorization": "Bearer {token}"}}' in first
    assert f"  TOKEN={token}" in first.splitlines()  # copy-pasteable into a shell for the README's curl
    # Second start: nothing is seeded, no token is made, and the hint is a command that works as printed.
    again, email_again = asyncio.run(_prepare_for_serve(settings))
    assert (again, email_again) == (None, "ana.full@demo.example")
    assert startup_hint(again, email_again) == "Make a token with:  partnerhub token create ana.full@demo.example"


def test_hint_without_any_full_admin_says_how_to_get_one():
    assert startup_hint(None, None) == (
        "No full admin yet: import a partner (partnerhub import FILE), then: partnerhub token create EMAIL"
    )
