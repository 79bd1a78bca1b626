"""Our ccxt exchange classes stand on their own: importing one loads none of the bot's model,
config or venue layer, so it can be used (or moved out) as a plain ccxt exchange; and the
registry finds each with its venue, in its own folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: the bot modules an exchange may load: its packages, three helpers (the implicit API, the one
#: strict decoder and JSON loader, and the `features` of a read-only exchange) and the error
#: vocabulary the decoder's refusals are made of
ALLOWED = {
    "bot",
    "bot.venues",
    "bot.venues.implicit",
    "bot.venues.decode",
    "bot.venues.readonly_features",
    "bot.errors",
}
FORBIDDEN = {
    "bot.model",
    "bot.venues.generic",
    "bot.venues.base",
    "bot.config",
    "bot.money",
    "bot.venues.errors",
}


@pytest.mark.parametrize(
    ("package", "exchange_id"),
    [("bot.venues.coinw", "coinw"), ("bot.venues.coinswitch", "coinswitch")],
)
def test_the_exchange_module_imports_nothing_of_the_bot(package: str, exchange_id: str) -> None:
    module = f"{package}.exchange"
    script = (
        "import json, sys\n"
        f"import {module} as exchange\n"
        f"client = exchange.{exchange_id}()\n"
        "assert client.id == exchange.EXCHANGE_ID\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'bot' or m.startswith('bot.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert module in loaded
    assert not loaded & FORBIDDEN, sorted(loaded & FORBIDDEN)
    assert loaded <= ALLOWED | {package, module}, sorted(loaded - ALLOWED - {package, module})


def test_the_registry_finds_each_exchange_with_its_venue() -> None:
    from bot.venues.coinswitch import CoinSwitchVenue, coinswitch
    from bot.venues.coinw import CoinWVenue, coinw
    from bot.venues.registry import exchange_class, own_exchanges, venue_class

    assert own_exchanges() == {"coinw": coinw, "coinswitch": coinswitch}
    assert exchange_class("v", "coinw") is coinw and exchange_class("v", "coinswitch") is coinswitch
    assert venue_class("coinw") is CoinWVenue
    assert venue_class("coinswitch") is CoinSwitchVenue
