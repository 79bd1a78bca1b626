"""Funding income: the paper exchange books funding at the current rate and mark, serves it
from Binance's income endpoints, and `collect_funding` records each payment once."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.audit.verify import verify_ledger
from bot.config import Config
from bot.funding.income import collect_funding
from bot.ledger import Ledger
from bot.paper import PaperExchange
from bot.paper.routes_income import book_funding
from bot.venues.session import open_venues
from tests.fakes.loopback import on_loopback


async def test_payments_are_read_from_the_venue_and_recorded_once(
    paper: PaperExchange, config: Config
) -> None:
    ledger = Ledger.open(config.ledger_url)
    now = paper.server_time()
    booked = book_funding(paper.store, now, "ETHUSDT")
    # the paper account is short 5 ETH at mark 3000, rate 0.0001: the short receives 1.5 USDT
    assert [(r["symbol"], r["income"], r["asset"]) for r in booked] == [
        ("ETHUSDT", "1.50000000", "USDT")
    ]
    async with open_venues(config, dry_run=True) as venues:
        first = await collect_funding(config, ledger, venues)
        again = await collect_funding(config, ledger, venues)
        book_funding(paper.store, now + 8 * 3600 * 1000, "ETHUSDT")
        later = await collect_funding(config, ledger, venues)
    assert first.errors == {} and first.count == 1
    (payment,) = first.recorded["binance"]
    assert (payment.hedge, payment.symbol, payment.amount) == ("eth", "ETH/USDT:USDT", D("1.5"))
    assert payment.exchange_id == str(booked[0]["tranId"])
    assert again.count == 0  # read again since the last payment: nothing new to record
    assert later.count == 1
    assert verify_ledger(ledger).ok  # funding payments are in the chain
    ledger.close()


BINANCE_ROW = {
    "symbol": "ETHUSDT",
    "incomeType": "FUNDING_FEE",
    "income": "0.00134317",
    "asset": "USDT",
    "time": "1621584000000",
    "info": "FUNDING_FEE",
    "tranId": "4480321991774044580",
    "tradeId": "",
}


def entry(**info: object) -> dict[str, object]:
    return {"info": {**BINANCE_ROW, **info}, "amount": 0.00134317, "id": "x"}


def test_a_binance_income_row_is_read_from_its_own_text() -> None:
    from bot.venues.decode import Decoder
    from bot.venues.generic import decode_funding_payment

    payment = decode_funding_payment(Decoder("b", "income"), entry(), "ETH/USDT:USDT", "entry 0")
    assert (payment.amount, payment.asset, payment.exchange_id) == (
        D("0.00134317"),
        "USDT",
        "4480321991774044580",
    )
    assert payment.at.isoformat() == "2021-05-21T08:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"income": "1e999"}, "absurdly large"),
        ({"income": "NaN"}, "not a finite number"),
        ({"income": None}, "is null"),
        ({"incomeType": "COMMISSION"}, "not FUNDING_FEE"),
        ({"tranId": ""}, "not a transfer id"),
        ({"time": "yesterday"}, "not a time in ms"),
        ({"asset": ""}, "not a name"),
    ],
)
def test_a_bad_income_row_refuses_the_read(change: dict[str, object], problem: str) -> None:
    from bot.venues.decode import Decoder, Untrusted
    from bot.venues.generic import decode_funding_payment

    with pytest.raises(Untrusted, match=problem):
        decode_funding_payment(Decoder("b", "income"), entry(**change), "ETH/USDT:USDT", "e")


async def test_coin_m_funding_is_served_by_the_dapi_income_endpoint(paper: PaperExchange) -> None:
    """The inverse short (300 BTCUSD_PERP contracts of 100 USD) receives its funding in BTC;
    ccxt reads it from /dapi/v1/income, whose tranId COIN-M documents as a string."""
    import ccxt
    import ccxt.async_support as ccxt_async

    from bot.paper import PAPER_API_KEY, PAPER_SECRET, binance_urls
    from bot.venues.decode import Decoder
    from bot.venues.generic import decode_funding_payment

    (booked,) = book_funding(paper.store, paper.server_time(), "BTCUSD_PERP")
    client = ccxt_async.binance(
        {
            "apiKey": PAPER_API_KEY,
            "secret": PAPER_SECRET,
            "enableRateLimit": False,
            "urls": {"api": binance_urls(paper.base_url, ccxt.binance().urls["api"])},
        }
    )
    on_loopback(client).number = str
    try:
        await client.load_markets()
        rows = await client.fetch_funding_history("BTC/USD:BTC", None, 1000)
    finally:
        await client.close()
    (row,) = rows
    assert row["info"]["tranId"] == str(booked["tranId"])
    payment = decode_funding_payment(Decoder("paper", "income"), row, "BTC/USD:BTC", "entry 0")
    assert payment.asset == "BTC" and payment.amount == D(booked["income"]) > 0


async def test_the_snapshot_job_records_funding_payments_once(
    paper: PaperExchange, config: Config
) -> None:
    """`bot run`'s snapshot job reads the venue's funding payments with its balances."""
    from bot.jobs.snapshot import snapshot

    ledger = Ledger.open(config.ledger_url)
    book_funding(paper.store, paper.server_time(), "ETHUSDT")
    await snapshot(config, ledger)
    await snapshot(config, ledger)  # nothing new the second time
    recorded = ledger.last_funding_payment_at("binance")
    assert recorded is not None
    assert verify_ledger(ledger).ok
    with ledger.engine.connect() as connection:
        from sqlalchemy import text

        count = connection.execute(text("SELECT COUNT(*) FROM funding_payments")).scalar_one()
    assert count == 1
    ledger.close()
