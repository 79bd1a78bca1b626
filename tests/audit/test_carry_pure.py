"""The carry's sums without a venue: time-weighting, calendar buckets, and groups that never add
USDT to BTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from bot.funding.carry import (
    Bucket,
    CapitalRead,
    Payment,
    bucket_starts,
    capital_days,
    carry_report,
)

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)  # a Monday, noon
H = timedelta(hours=1)


def read(hedge: str, at: datetime, capital: str, asset: str = "USDT") -> CapitalRead:
    return CapitalRead(
        hedge=hedge,
        venue="v",
        asset=asset,
        at=at,
        spot_value=D(capital),
        futures_collateral=D(0),
    )


def pay(hedge: str, at: datetime, amount: str, asset: str = "USDT") -> Payment:
    return Payment(hedge=hedge, venue="v", asset=asset, amount=D(amount), at=at)


def test_each_read_stands_until_the_next_and_the_one_before_the_period_from_its_start() -> None:
    reads = [read("a", T0 - 5 * H, "1000"), read("a", T0 + 6 * H, "3000")]
    # from T0: 1000 for 6 h, then 3000 for 18 h = 250 + 2250 capital-days
    total, began = capital_days(reads, T0, T0 + 24 * H)
    assert (total, began) == (D(2500), T0)
    # a burst of reads (a busy hour) weighs by the time each stands, not by its count
    burst = [read("a", T0 + n * H / 60, "9000") for n in range(10)]
    calm = [read("a", T0 + 10 * H / 60, "1000")]
    total, _ = capital_days(burst + calm, T0, T0 + 24 * H)
    assert total == D(9000) * D(10) / D(1440) + D(1000) * D(1430) / D(1440)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    end = T0 + 40 * 24 * H
    weeks = bucket_starts(T0, end, Bucket.WEEK)
    assert weeks[0] == datetime(2026, 11, 30, tzinfo=UTC)
    assert weeks[1] - weeks[0] == timedelta(days=7)
    assert bucket_starts(T0, end, Bucket.MONTH) == [
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    ]


def test_totals_are_per_asset_and_capital_weighted() -> None:
    hedges = {"a": ("v", "USDT"), "b": ("v", "USDT"), "c": ("v", "BTC")}
    reads = [read("a", T0, "1000"), read("b", T0, "3000"), read("c", T0, "1", "BTC")]
    payments = [pay("a", T0 + H, "1"), pay("b", T0 + H, "1"), pay("c", T0 + H, "0.0001", "BTC")]
    report = carry_report(hedges, payments, reads, [], T0, T0 + 24 * H)
    usdt, btc = sorted(report.totals, key=lambda c: c.asset != "USDT")
    assert (usdt.asset, usdt.net_funding, usdt.average_capital) == ("USDT", D(2), D(4000))
    assert usdt.annual_yield == D(2) * 365 / D(4000)  # not the mean of 1/1000 and 1/3000
    assert (btc.asset, btc.net_funding, btc.annual_yield) == ("BTC", D("0.0001"), D("0.0365"))


def test_payments_before_any_capital_is_known_stay_out_of_the_yield() -> None:
    report = carry_report(
        {"a": ("v", "USDT")},
        [pay("a", T0 + H, "5"), pay("a", T0 + 13 * H, "1")],
        [read("a", T0 + 12 * H, "1000")],
        [],
        T0,
        T0 + 24 * H,
    )
    (row,) = report.hedges
    assert (row.net_funding, row.net_observed, row.unmatched) == (D(6), D(1), 1)
    assert row.annual_yield == D(1) * 365 / D(500)  # 1000 for half a day
    assert "1 payment booked before the first snapshot" in report.notes[0]
