"""The carry report as JSON and as text: `bot carry`, the daily report's lines and the HTML
report's table read the same figures from here."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.funding.carry import Carry, CarryReport
from bot.money import plain
from bot.policy.funding import hours, label

#: the formula, said beside the figures (README "Carry")
FORMULA = (
    "annual yield = net funding x 365 / capital-days; capital = spot leg at mark + the futures "
    "collateral that margins the short, each snapshot standing until the next (time-weighted)"
)
TRANSFER_FEES = "transfer fees: as the ledger records them (none are charged on the transfers "
TRANSFER_FEES += "between a venue's own wallets)"

#: yields are shown to this many decimals (the JSON keeps Decimal's 28 digits)
PERCENT = Decimal("0.01")


def when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def percent(value: Decimal | None) -> str:
    """A yield as a percentage with two decimals (0.0325 -> "3.25%"), "-" when unknown."""
    if value is None:
        return "-"
    return f"{plain((value * 100).quantize(PERCENT))}%"


def carry_json(row: Carry) -> dict[str, Any]:
    return {
        "name": row.name,
        "venue": row.venue,
        "asset": row.asset,
        "start": when(row.start),
        "end": when(row.end),
        "received": plain(row.received),
        "paid": plain(row.paid),
        "net_funding": plain(row.net_funding),
        "payments": row.payments,
        "transfer_fees": plain(row.fees),
        "net_carry": plain(row.net_carry),
        "capital_days": plain(row.capital_days),
        "average_capital": plain(row.average_capital),
        "observed_from": when(row.observed_from),
        "observed_days": plain(row.observed_days),
        "net_funding_observed": plain(row.net_observed),
        "annual_yield": plain(row.annual_yield),
        "unmatched_payments": row.unmatched,
        "current_rate": plain(row.current.rate) if row.current else None,
        "current_rate_at": when(row.current.at) if row.current else None,
        "funding_interval_hours": (
            plain(hours(row.current.interval)) if row.current and row.current.interval else None
        ),
        "current_rate_annualised": plain(row.rate_annualised),
    }


def report_json(report: CarryReport) -> dict[str, Any]:
    """`bot carry --json` (docs: README "Carry")."""
    return {
        "since": when(report.start),
        "until": when(report.end),
        "by": report.by.value if report.by is not None else None,
        "formula": FORMULA,
        "transfer_fees": TRANSFER_FEES,
        "not_deducted": report.not_read,
        "hedges": [carry_json(r) for r in report.hedges],
        "venues": [carry_json(r) for r in report.venues],
        "totals": [carry_json(r) for r in report.totals],
        "buckets": [
            {"start": when(moment), "hedges": [carry_json(r) for r in rows]}
            for moment, rows in report.buckets
        ],
        "notes": list(report.notes),
    }


HEADERS = [
    "hedge",
    "venue",
    "asset",
    "received",
    "paid",
    "net funding",
    "transfer fees",
    "net carry",
    "avg capital",
    "days",
    "annual yield",
    "rate now (a year)",
]


def carry_row(row: Carry, label: str | None = None) -> list[str]:
    """One table row of text cells, in `HEADERS`' order."""
    return [
        label or row.name,
        row.venue or "all",
        row.asset,
        plain(row.received) or "0",
        plain(row.paid) or "0",
        plain(row.net_funding) or "0",
        plain(row.fees) or "0",
        plain(row.net_carry) or "0",
        plain(row.average_capital.quantize(PERCENT)) if row.average_capital is not None else "-",
        plain(row.observed_days.quantize(PERCENT)) or "0",
        percent(row.annual_yield),
        _rate_now(row),
    ]


def _rate_now(row: Carry) -> str:
    """The newest rate, its interval and its yearly figure ("0.01%/8h = 10.95%"); "-" for a
    group or where no rate was read."""
    if row.current is None:
        return "-"
    rate = f"{plain((row.current.rate * 100).normalize())}%"
    if row.current.interval is None:
        return f"{rate} (interval unknown)"
    return f"{rate}/{label(row.current.interval)} = {percent(row.rate_annualised)}"


def table_rows(report: CarryReport) -> list[list[str]]:
    """The period's rows: per hedge, then per venue, then the totals per asset."""
    rows = [carry_row(r) for r in report.hedges]
    rows += [carry_row(r, f"venue {r.name}") for r in report.venues]
    rows += [carry_row(r) for r in report.totals]
    return rows


def bucket_rows(report: CarryReport) -> list[list[str]]:
    """Per bucket, per hedge: the bucket's start first."""
    rows = []
    for moment, carries in report.buckets:
        label = moment.strftime("%Y-%m-%d")
        rows += [[label, *carry_row(r)] for r in carries if r.payments or r.capital_days]
    return rows


def summary_line(row: Carry) -> str:
    """One hedge in one line (the daily report alert)."""
    return (
        f"carry {row.name} ({row.venue}): net funding {plain(row.net_funding)} {row.asset} "
        f"({row.payments} payments), avg capital "
        f"{plain(row.average_capital.quantize(PERCENT)) if row.average_capital else '-'} "
        f"{row.asset}, annual yield {percent(row.annual_yield)}"
    )
