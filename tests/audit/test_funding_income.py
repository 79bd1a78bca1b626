"""Funding income: the paper exchange books funding at the current rate and mark, serves it
from Binance's income endpoints, and `collect_funding` records each payment once."""

from __future__ import annotations

from decimal import Decimal as D

from bot.config import Config
from bot.funding_income import collect_funding
from bot.ledger import Ledger
from bot.paper import PaperExchange
from bot.paper.routes_income import book_funding
from bot.venues.session import open_venues


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
    assert ledger.verify().ok  # funding payments are in the chain
    ledger.close()
