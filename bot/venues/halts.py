"""What a halted venue waits for: a person to change its config or key, or to resume it.

A fatal refusal of a transfer or margin call (a key without the transfer permission, an IP not
whitelisted: Binance `-2015`) would be refused again at every cycle, so the executor records
the venue halted once (`Ledger.record_halt`) and starts nothing new on it (design invariant 9:
"fatal: stop that venue, say what to fix"). The halt ends when what a person would change to
fix it has changed, or when they say so (`bot venue resume NAME --reason TEXT`).

What a person would change is the venue's config section and its API key. Each `Venue` keeps
`fix_digest(...)` of them, computed from the config and the environment when it is built (each
one-shot command builds its venues anew; `bot run` builds them at start, and a new key reaches
a running process only through a restart, which builds them again). The ledger never holds the
digest itself, only `fingerprint(digest, salt, key)`:

    HMAC-SHA256(ledger key || salt, digest)

Why not the plain digest: a SHA-256 of an API key is a stable public name for that key, which
anyone reading the database could match against the key's hash elsewhere or link across
ledgers, and a config section is guessable. Under the journal's key (`ledger.hmac_key_env`,
from the environment, never in the database), a reader of the database cannot test a guess at
all; the random salt per halt makes two halts' fingerprints unlinkable and precomputation
useless when no key is set (the API key's own length then keeps it from being guessed). The
fingerprint only ever answers "is it still the same config and key?".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets

from bot.config import Config, VenueConfig

#: who ends a halt when the fingerprint changed
BY_THE_BOT = "bot"
CHANGED = "the venue's config section or API key changed since the halt"


def fix_digest(name: str, venue: VenueConfig, api_key: str | None) -> str:
    """SHA-256 of the venue's config section and API key: kept in memory (on the `Venue`),
    never written; the ledger stores `fingerprint` of it. A paper venue's keys are fixed, so
    its config section alone counts (`api_key` None)."""
    material = {
        "venue": name,
        "config": venue.model_dump(mode="json"),
        "api_key": None if venue.paper else api_key,
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def live_fix_digest(config: Config, name: str) -> str | None:
    """`fix_digest` of venue `name` from config and the environment now (for `bot status`);
    None when the venue is not configured or its key variable is unset."""
    venue = config.venues.get(name)
    if venue is None:
        return None
    if venue.paper:
        return fix_digest(name, venue, None)
    # what names the account: the API key, or a wallet-signing venue's address (`Credentials`)
    named = venue.api_key_env or venue.wallet_address_env
    api_key = os.environ.get(named) if named else None
    if api_key and not venue.api_key_env:
        api_key = api_key.strip()  # as `credentials_from_env` reads the address
    return fix_digest(name, venue, api_key) if api_key else None


def new_salt() -> str:
    return secrets.token_hex(16)


def fingerprint(digest: str, salt: str, key: bytes | None) -> str:
    """HMAC-SHA256 of `digest` under the ledger's journal key and the halt's salt (see the
    module's docstring for why neither the digest nor an unkeyed hash is stored)."""
    return hmac.new((key or b"") + bytes.fromhex(salt), digest.encode(), hashlib.sha256).hexdigest()
