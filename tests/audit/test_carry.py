"""`bot carry` against the paper exchange: two snapshots days apart and eleven funding payments
booked over four days, collected through ccxt, then the yield checked against a hand
computation from the same records."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.config import load_config
from bot.funding.income import collect_funding
from bot.funding.intervals import observe
from bot.ledger import Ledger
from bot.model import State
from bot.paper import PaperExchangeThread, PaperState
from bot.paper.routes_income import book_funding
from bot.venues.session import open_venues
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    Invocation,
    bot,
    config_file,
    edit_state,
    paper,
    set_usdm_short,
    venue_env,
    write_config,
)

Bot = Callable[..., Invocation]
HOUR = timedelta(hours=1)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


def _set_interval(paper: PaperExchangeThread, symbol: str, hours: int) -> None:  # noqa: F811
    def change(state: PaperState) -> PaperState:
        funding = dict(state.funding)
        funding[symbol] = dataclasses.replace(funding[symbol], interval_hours=hours)
        return dataclasses.replace(state, funding=funding)

    edit_state(paper, change)


def _set_rate(paper: PaperExchangeThread, rate: str) -> None:  # noqa: F811
    def change(state: PaperState) -> PaperState:
        funding = {
            symbol: dataclasses.replace(f, rate=D(rate)) for symbol, f in state.funding.items()
        }
        return dataclasses.replace(state, funding=funding)

    edit_state(paper, change)


@pytest.fixture
def base() -> datetime:
    """Midnight UTC five days ago: the period's start (the figures do not depend on it)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=5)


@pytest.fixture
def carried(paper: PaperExchangeThread, config_file: Path, base: datetime) -> Path:  # noqa: F811
    """The ledger of the hedge `eth` (short 5 ETH at 3000, 5 ETH spot):
    - a read at base: futures wallet 4500 USDT, so capital 5 x 3000 + 4500 = 19500 USDT;
    - a read at base + 2 days after a top-up to 7500: capital 15000 + 7500 = 22500 USDT;
    - payments every 8 hours from base + 8h to base + 88h (11): nine at rate 0.0001 (the short
      receives 5 x 3000 x 0.0001 = 1.5 USDT), then two at -0.0002 (it pays 3 USDT);
    - ETHUSDT listed in fundingInfo at 4 hours, seen by the reads (as `bot run` remembers it)."""
    config = load_config(config_file)
    _set_interval(paper, "ETHUSDT", 4)

    async def record() -> None:
        ledger = Ledger.open(config.ledger_url, key=config.ledger_key)
        try:
            async with open_venues(config, dry_run=True) as venues:
                for at, wallet in ((base, "4500"), (base + 48 * HOUR, "7500")):
                    set_usdm_short(paper, "-5", wallet=wallet)
                    read = await venues["binance"].read_state()
                    read = dataclasses.replace(read, read_at=at)
                    run = ledger.start_run("snapshot", dry_run=True, config_digest="test")
                    ledger.record_snapshot(run, State(read_at=at, venues={"binance": read}))
                    ledger.finish_run(run, "ok")
                    observe(
                        config.data_dir, State(read_at=at, venues={"binance": read}), config.hedges
                    )
                for n in range(1, 12):
                    if n == 10:
                        _set_rate(paper, "-0.0002")
                    paper.call(
                        lambda n=n: book_funding(paper.store, _ms(base + 8 * n * HOUR), "ETHUSDT")
                    )
                assert (await collect_funding(config, ledger, venues)).count == 11
        finally:
            ledger.close()

    asyncio.run(record())
    return config_file


def test_the_annualised_yield_is_the_hand_computation(
    carried: Path,
    bot: Bot,  # noqa: F811
    base: datetime,
) -> None:
    since, until = base.isoformat(), (base + 96 * HOUR).isoformat()
    result = bot(
        "carry", "--since", since, "--until", until, "--by", "day", "--json", config=carried
    )
    assert result.exit_code == 0, result.stderr
    shown = result.json()
    (eth,) = shown["hedges"]
    # by hand: received 9 x 1.5 = 13.5, paid 2 x 3 = 6, net 7.5 USDT
    assert (eth["received"], eth["paid"], eth["net_funding"], eth["payments"]) == (
        "13.5",
        "6",
        "7.5",
        11,
    )
    # capital-days: 19500 for 2 days + 22500 for 2 days = 84000; average 84000 / 4 = 21000
    assert (eth["capital_days"], eth["average_capital"], eth["observed_days"]) == (
        "84000",
        "21000",
        "4",
    )
    # yield: 7.5 x 365 / 84000 = 0.03258928571... (3.26 % a year)
    assert D(eth["annual_yield"]) == D("7.5") * 365 / D("84000")
    assert D(eth["annual_yield"]).quantize(D("0.0001")) == D("0.0326")
    assert (eth["transfer_fees"], eth["net_carry"], eth["unmatched_payments"]) == ("0", "7.5", 0)
    (venue,) = shown["venues"]
    (total,) = shown["totals"]
    assert venue["annual_yield"] == total["annual_yield"] == eth["annual_yield"]
    assert (venue["name"], total["name"], total["asset"]) == ("binance", "total", "USDT")
    # day one: capital 19500 all day, payments at 8h and 16h: 3 USDT; 3 x 365 / 19500
    first, *rest = shown["buckets"]
    assert len(rest) == 3 and first["start"] == base.isoformat().replace("+00:00", "Z")
    (day,) = first["hedges"]
    assert (day["net_funding"], day["capital_days"]) == ("3", "19500")
    assert D(day["annual_yield"]) == D(3) * 365 / D(19500)
    # the fourth day: capital 22500, payments at 80h (-3) and 88h (-3) and 72h (+1.5): -4.5
    (last,) = rest[-1]["hedges"]
    assert (last["net_funding"], last["capital_days"]) == ("-4.5", "22500")
    # the newest rate read (0.0001 at the second snapshot), paid every 4 hours: 2190 times a
    # year, 21.9 %
    assert (eth["current_rate"], eth["funding_interval_hours"]) == ("0.0001", "4")
    assert D(eth["current_rate_annualised"]) == D("0.219")
    assert venue["current_rate"] is None  # a group has no one rate
    assert "trading fees and basis are not read" in shown["not_deducted"]
    assert shown["schema"] == 1 and shown["by"] == "day"


def test_the_text_table_and_refusals(carried: Path, bot: Bot, base: datetime) -> None:  # noqa: F811
    since, until = base.isoformat(), (base + 96 * HOUR).isoformat()
    text = bot("carry", "--since", since, "--until", until, config=carried)
    assert text.exit_code == 0, text.stderr
    assert "3.26%" in text.stdout and "21000" in text.stdout
    assert "0.01%/4h = 21.9%" in text.stdout
    assert "trading fees and basis are not read" in text.stdout
    bad = bot("carry", "--by", "year", config=carried)
    assert bad.exit_code == 2 and "--by" in bad.stderr
    backwards = bot("carry", "--since", until, "--until", since, config=carried)
    assert backwards.exit_code == 2 and "--until" in backwards.stderr
    unknown = bot("carry", "--hedge", "nope", config=carried)
    assert unknown.exit_code == 2 and "unknown hedge 'nope'" in unknown.stderr


def test_before_the_first_snapshot_payments_stay_out_of_the_yield(
    carried: Path,
    bot: Bot,  # noqa: F811
    base: datetime,
) -> None:
    """A period that starts a day before the first snapshot: no capital is known before it,
    so the yield runs over the four observed days only."""
    since = (base - 24 * HOUR).isoformat()
    until = (base + 96 * HOUR).isoformat()
    shown = bot("carry", "--since", since, "--until", until, "--json", config=carried).json()
    (eth,) = shown["hedges"]
    assert eth["observed_from"] == base.isoformat().replace("+00:00", "Z")
    assert eth["observed_days"] == "4" and eth["capital_days"] == "84000"


def test_the_report_and_the_daily_alert_show_the_carry(carried: Path, base: datetime) -> None:
    from bot.alerts.report import daily_summary
    from bot.audit.report import build_report

    config = load_config(carried)
    ledger = Ledger.open(config.ledger_url, key=config.ledger_key)
    try:
        page = build_report(config, ledger, since=base, generated_at=base + 96 * HOUR)
        daily = daily_summary(ledger, base + 96 * HOUR, config=config)
    finally:
        ledger.close()
    table = re.search(r"<table id='carry-table'>(.*?)</table>", page, re.S)
    assert table is not None
    rows = re.findall(r"<tr>(.*?)</tr>", table[1].partition("<tbody>")[2], re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    # the hedge, its venue and the total: each net 7.5 on an average 21000, 3.26 % a year
    assert [c[0] for c in cells] == ["eth", "venue binance", "total"]
    assert all(c[5] == "7.5" and c[8] == "21000" and c[10] == "3.26%" for c in cells)
    assert "trading fees and basis are not read" in page
    # the last day: net -4.5 (1.5 - 3 - 3) on 22500: -4.5 x 365 / 22500 = -7.30 % a year
    summary, line = daily.splitlines()
    assert summary.startswith("daily report")
    assert line == (
        "carry eth (binance): net funding -4.5 USDT (3 payments), avg capital 22500 USDT, "
        "annual yield -7.3%"
    )
