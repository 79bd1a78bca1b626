"""The halt's fingerprint: changes with the venue's config section or API key, never shows
the key, and is unlinkable across halts (salted) and untestable without the journal key."""

from __future__ import annotations

from bot.config import VenueConfig
from bot.venues.halts import fingerprint, fix_digest, new_salt

KEY = "k" * 64
VENUE = VenueConfig(exchange="binance", api_key_env="K", secret_env="S")


def test_the_digest_follows_the_config_section_and_the_key() -> None:
    base = fix_digest("binance", VENUE, KEY)
    assert base == fix_digest("binance", VENUE, KEY)
    assert base != fix_digest("binance", VENUE, "another key")
    assert base != fix_digest("binance", VENUE.model_copy(update={"api_key_env": "K2"}), KEY)
    assert base != fix_digest("binance2", VENUE, KEY)


def test_the_fingerprint_reveals_nothing_and_needs_its_salt_and_key() -> None:
    digest = fix_digest("binance", VENUE, KEY)
    salt = new_salt()
    stored = fingerprint(digest, salt, b"journal key")
    assert KEY not in stored and digest not in stored and len(stored) == 64
    assert stored == fingerprint(digest, salt, b"journal key")
    assert stored != fingerprint(digest, new_salt(), b"journal key")
    assert stored != fingerprint(digest, salt, None)
    assert stored != fingerprint(fix_digest("binance", VENUE, "rotated"), salt, b"journal key")
