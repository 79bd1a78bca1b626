"""The bot's Bybit and OKX venues as the bot builds them (its client builder: exact JSON, its
ccxt options), pointed at the loopback fakes of Bybit v5 and OKX v5. Each is added to
`opened` (the fixture in tests/venues/conftest.py), which closes its client after the test."""

from __future__ import annotations

from decimal import Decimal

from bot.config import HedgeConfig, VenueConfig
from bot.venues.bybit.venue import BybitVenue
from bot.venues.clients import Credentials, build_client
from bot.venues.generic import CcxtVenue
from bot.venues.okx.venue import OkxVenue
from tests.fakes.bybit_server import API_KEY as BYBIT_KEY
from tests.fakes.bybit_server import SECRET as BYBIT_SECRET
from tests.fakes.bybit_server import BybitFake
from tests.fakes.okx_server import API_KEY as OKX_KEY
from tests.fakes.okx_server import PASSPHRASE as OKX_PASSPHRASE
from tests.fakes.okx_server import SECRET as OKX_SECRET
from tests.fakes.okx_server import OkxFake

BYBIT_APIS = ("spot", "futures", "v2", "public", "private")


#: each venue's hedge, in its account's own figure, drawing on its funding wallet
TERMS = {
    "bybit": ({"accountMMRate": "0.1"}, (Decimal("0.05"), Decimal("0.15"))),
    "okx": ({"mgnRatio": "8"}, (Decimal("5"), Decimal("12"))),
}


def hedge(venue: str, **overrides: object) -> HedgeConfig:
    target, band = TERMS[venue]
    values: dict[str, object] = {
        "venue": venue,
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "target": target,
        "band": band,
        "reserve_wallet": "funding",
    }
    return HedgeConfig.model_validate({**values, **overrides})


def bybit_venue(
    fake: BybitFake,
    opened: list[CcxtVenue],
    *,
    hedged: bool = True,
    hedges: dict[str, HedgeConfig] | None = None,
) -> BybitVenue:
    if hedges is None:
        hedges = {"btc": hedge("bybit")} if hedged else {}
    config = VenueConfig(
        exchange="bybit",
        urls=dict.fromkeys(BYBIT_APIS, fake.base_url),
        ccxt={"rateLimit": 1, "options": {"fetchMarkets": {"types": ["spot", "linear"]}}},
    )
    client = build_client(
        "bybit",
        config,
        Credentials(api_key=BYBIT_KEY, secret=BYBIT_SECRET),
        dry_run=True,
        options=BybitVenue.ccxt_options(hedges),
    )
    venue = BybitVenue("bybit", client, hedges)
    opened.append(venue)
    return venue


def okx_venue(
    fake: OkxFake, opened: list[CcxtVenue], hedges: dict[str, HedgeConfig] | None = None
) -> OkxVenue:
    hedges = {"btc": hedge("okx")} if hedges is None else hedges
    config = VenueConfig(
        exchange="okx",
        urls={"rest": fake.base_url},
        ccxt={"rateLimit": 1, "options": {"fetchMarkets": {"types": ["spot", "swap"]}}},
    )
    client = build_client(
        "okx",
        config,
        Credentials(api_key=OKX_KEY, secret=OKX_SECRET, password=OKX_PASSPHRASE),
        dry_run=True,
        options=OkxVenue.ccxt_options(hedges),
    )
    venue = OkxVenue("okx", client, hedges)
    opened.append(venue)
    return venue
