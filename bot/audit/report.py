"""`bot report`: one self-contained HTML page of a period, per hedge: margin ratio with its band
and danger line, futures equity and short notional, spot and futures balances with the
transfers as markers, funding rate and cumulative funding income; then the period's transfers,
funding income and alerts as tables.

Charts are plotly's, with plotly.js embedded once in the page, so it opens with no network.
Figures go to the charts as the ledger's exact decimal text (plotly.js reads numeric text),
never through a Python float.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select, text

from bot.audit.carry_section import carry_section
from bot.config import Config, HedgeConfig
from bot.ledger.queries import TransferFilter, direction_of, iter_transfer_rows
from bot.ledger.snapshots import recorded_reads
from bot.ledger.store import Ledger
from bot.ledger.tables import FundingPayment, FundingSnapshot
from bot.model import State
from bot.money import plain
from bot.policy.margin import hedge_margins


@dataclass
class HedgeSeries:
    """What one hedge's charts show, point by point (times, and exact decimals)."""

    name: str
    venue: str
    perp: str
    collateral: str
    futures_account: str
    band: tuple[Decimal, Decimal]
    target: Decimal
    at: list[datetime] = field(default_factory=list)
    margin_ratio: list[Decimal | None] = field(default_factory=list)
    danger: list[Decimal | None] = field(default_factory=list)
    equity: list[Decimal] = field(default_factory=list)
    notional: list[Decimal] = field(default_factory=list)
    spot_balance: list[Decimal | None] = field(default_factory=list)
    futures_balance: list[Decimal | None] = field(default_factory=list)
    funding_at: list[datetime] = field(default_factory=list)
    funding_rate: list[Decimal] = field(default_factory=list)
    income_at: list[datetime] = field(default_factory=list)
    income_cumulative: list[Decimal] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)


def _collateral(perp: str) -> tuple[str, str]:
    """The settle asset and the futures wallet of a unified perpetual symbol (ETH/USDT:USDT)."""
    pair, _, settle = perp.partition(":")
    quote = pair.partition("/")[2]
    return settle or quote, "linear" if settle == quote else "inverse"


def hedge_series(
    ledger: Ledger, name: str, hedges: Mapping[str, HedgeConfig], since: datetime | None
) -> HedgeSeries:
    """One hedge's charts; `hedges`: every configured hedge (a cross pool's ratio needs the
    others in it)."""
    hedge = hedges[name]
    collateral, futures_account = _collateral(hedge.perp)
    series = HedgeSeries(
        name=name,
        venue=hedge.venue,
        perp=hedge.perp,
        collateral=collateral,
        futures_account=futures_account,
        band=hedge.band,
        target=hedge.target_margin_ratio,
    )
    funding = select(FundingSnapshot.read_at, FundingSnapshot.rate).where(
        FundingSnapshot.venue == hedge.venue,
        FundingSnapshot.symbol == hedge.perp,
        FundingSnapshot.rate.is_not(None),
    )
    income = select(FundingPayment.at, FundingPayment.amount).where(
        FundingPayment.venue == hedge.venue, FundingPayment.symbol == hedge.perp
    )
    if since is not None:
        funding = funding.where(FundingSnapshot.read_at >= since)
        income = income.where(FundingPayment.at >= since)
    # every recorded read of the venue, judged by the one margin figure as the plan judged it
    on_venue = {n: h for n, h in hedges.items() if h.venue == hedge.venue}
    perps = [h.perp for h in on_venue.values()]
    for read in recorded_reads(ledger, hedge.venue, perps, since=since):
        position = read.positions.get(hedge.perp)
        if position is None:
            continue
        margin = hedge_margins(State(read_at=read.read_at, venues={read.venue: read}), on_venue)
        figure = margin.get(name)
        if figure is None:
            continue
        size = abs(position.notional)
        series.at.append(read.read_at)
        series.notional.append(figure.notional)
        series.equity.append(figure.equity)
        series.margin_ratio.append(figure.ratio)
        maintenance = position.maintenance_margin
        series.danger.append(maintenance / size if size and maintenance is not None else None)
        futures = read.wallets.get((futures_account, collateral))
        spot = read.wallets.get(("spot", collateral))
        series.futures_balance.append(futures.balance if futures else None)
        series.spot_balance.append(spot.balance if spot else None)
    with ledger.engine.connect() as connection:
        for row in connection.execute(funding.order_by(FundingSnapshot.read_at)):
            series.funding_at.append(row.read_at)
            series.funding_rate.append(row.rate)
        total = Decimal(0)
        for row in connection.execute(income.order_by(FundingPayment.at, FundingPayment.id)):
            total += row.amount
            series.income_at.append(row.at)
            series.income_cumulative.append(total)
    where = TransferFilter(venue=hedge.venue, hedge=name, since=since)
    for row in iter_transfer_rows(ledger, where):
        if row.dry_run:
            continue
        series.transfers.append(
            {
                "id": row.id,
                "at": row.created_at,
                "amount": row.amount if row.amount is not None else row.planned_amount,
                "asset": row.asset,
                "direction": direction_of(row.from_account, row.to_account),
                "status": row.status,
            }
        )
    return series


def _x(values: Iterable[datetime]) -> list[str]:
    return [v.isoformat().replace("+00:00", "Z") for v in values]


def _y(values: Iterable[Decimal | None]) -> list[str | None]:
    return [plain(v) if v is not None else None for v in values]


def hedge_figure(series: HedgeSeries) -> Any:
    """The hedge's four charts, one shared time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        specs=[[{}], [{}], [{}], [{"secondary_y": True}]],
        subplot_titles=(
            "margin ratio (futures equity / short notional)",
            f"futures equity and short notional ({series.collateral})",
            f"spot and futures balances ({series.collateral}), transfers as markers",
            "funding rate and cumulative funding income",
        ),
    )
    x = _x(series.at)
    low, high = series.band
    figure.add_trace(go.Scatter(x=x, y=_y(series.margin_ratio), name="margin ratio"), 1, 1)
    for value, label, dash in (
        (low, "band low", "dot"),
        (high, "band high", "dot"),
        (series.target, "target", "dash"),
    ):
        figure.add_trace(
            go.Scatter(
                x=[x[0], x[-1]] if x else [],
                y=[plain(value)] * (2 if x else 0),
                name=label,
                mode="lines",
                line={"dash": dash, "color": "#888"},
            ),
            1,
            1,
        )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=_y(series.danger),
            name="danger (maintenance margin / notional)",
            line={"color": "#d62728"},
        ),
        1,
        1,
    )
    figure.add_trace(go.Scatter(x=x, y=_y(series.equity), name="futures equity"), 2, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.notional), name="short notional"), 2, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.spot_balance), name="spot balance"), 3, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.futures_balance), name="futures balance"), 3, 1)
    for direction, symbol, color in (
        ("to_futures", "triangle-up", "#2ca02c"),
        ("to_spot", "triangle-down", "#ff7f0e"),
    ):
        moves = [t for t in series.transfers if t["direction"] == direction]
        figure.add_trace(
            go.Scatter(
                x=_x(t["at"] for t in moves),
                y=_y(t["amount"] for t in moves),
                name=f"transfer {direction.replace('_', ' ')}",
                mode="markers",
                marker={"symbol": symbol, "size": 11, "color": color},
                text=[f"#{t['id']} {t['status']} {plain(t['amount'])} {t['asset']}" for t in moves],
                hovertemplate="%{text}<extra></extra>",
            ),
            3,
            1,
        )
    figure.add_trace(
        go.Scatter(
            x=_x(series.funding_at),
            y=_y(series.funding_rate),
            name="funding rate",
            mode="lines+markers",
        ),
        4,
        1,
    )
    figure.add_trace(
        go.Scatter(
            x=_x(series.income_at),
            y=_y(series.income_cumulative),
            name=f"cumulative funding income ({series.collateral})",
            mode="lines+markers",
            line={"shape": "hv"},
        ),
        4,
        1,
        secondary_y=True,
    )
    figure.update_layout(
        height=1100,
        title=f"hedge {series.name}: {series.perp} on {series.venue}",
        legend={"orientation": "h"},
        margin={"l": 60, "r": 60, "t": 80, "b": 40},
    )
    figure.update_yaxes(type="linear")
    figure.update_yaxes(tickformat=".4%", row=4, col=1, secondary_y=False)
    figure.update_xaxes(type="date")
    return figure


CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; }
.note { color: #666; }
"""


def _table(headers: list[str], rows: list[list[Any]], numeric: set[str]) -> str:
    if not rows:
        return '<p class="note">none in this period.</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for header, value in zip(headers, row, strict=True):
            css = ' class="num"' if header in numeric else ""
            shown = "-" if value is None else plain(value) if isinstance(value, Decimal) else value
            cells.append(f"<td{css}>{html.escape(str(shown))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _transfers_table(ledger: Ledger, since: datetime | None) -> str:
    rows = [
        [
            r.id,
            _x([r.created_at])[0],
            r.venue,
            r.hedges,
            direction_of(r.from_account, r.to_account),
            r.amount if r.amount is not None else r.planned_amount,
            r.asset,
            r.status,
            r.exchange_id,
            r.error,
        ]
        for r in iter_transfer_rows(ledger, TransferFilter(since=since))
    ]
    headers = ["id", "created (UTC)", "venue", "hedges", "direction", "amount", "asset"]
    headers += ["status", "venue id", "error"]
    return _table(headers, rows, {"id", "amount"})


def _funding_table(ledger: Ledger, since: datetime | None) -> str:
    query = select(
        FundingPayment.venue,
        FundingPayment.hedge,
        FundingPayment.asset,
        FundingPayment.at,
        FundingPayment.amount,
    )
    if since is not None:
        query = query.where(FundingPayment.at >= since)
    days: dict[tuple[str, str, str, str], list[Any]] = {}
    with ledger.engine.connect() as connection:
        for row in connection.execute(query):
            key = (row.at.strftime("%Y-%m-%d"), row.venue, row.hedge or "-", row.asset)
            slot = days.setdefault(key, [0, Decimal(0)])
            slot[0] += 1
            slot[1] += row.amount
    rows = [[*key, n, total] for key, (n, total) in sorted(days.items())]
    return _table(
        ["day", "venue", "hedge", "asset", "payments", "income"], rows, {"payments", "income"}
    )


def _alerts_table(ledger: Ledger, since: datetime | None) -> str:
    """The alerts table where this ledger has one (written by `bot run`), shown as it is."""
    with ledger.engine.connect() as connection:
        if not inspect(connection).has_table("alerts"):
            return '<p class="note">this ledger records no alerts.</p>'
        result = connection.execute(text("SELECT * FROM alerts ORDER BY id DESC LIMIT 500"))
        headers = list(result.keys())
        rows = [list(row) for row in result]
    if since is not None and "at" in headers:
        index = headers.index("at")
        rows = [r for r in rows if r[index] is None or str(r[index]) >= str(since)[:19]]
    return _table(headers, rows, set())


def build_report(
    config: Config,
    ledger: Ledger,
    *,
    since: datetime | None,
    generated_at: datetime,
    hedges: Iterable[str] | None = None,
) -> str:
    """The whole page as one string (charts inline, plotly.js embedded once)."""
    from plotly.offline import get_plotlyjs

    names = list(hedges) if hedges is not None else sorted(config.hedges)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>bot report</title>",
        f"<style>{CSS}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script>",
        "</head><body>",
        "<h1>bot report</h1>",
        f"<p class='note'>period: from {html.escape(_x([since])[0] if since else 'the start')}"
        f" to {html.escape(_x([generated_at])[0])}; ledger read read-only.</p>",
    ]
    for name in names:
        series = hedge_series(ledger, name, config.hedges, since)
        parts.append(f"<h2 id='hedge-{html.escape(name)}'>hedge {html.escape(name)}</h2>")
        if not series.at:
            parts.append('<p class="note">no snapshots of this hedge in this period.</p>')
            continue
        parts.append(
            hedge_figure(series).to_html(
                include_plotlyjs=False, full_html=False, div_id=f"chart-{name}"
            )
        )
    parts += ["<h2>transfers</h2>", _transfers_table(ledger, since)]
    parts += ["<h2>funding income</h2>", _funding_table(ledger, since)]
    parts.append(carry_section(config, ledger, since=since, generated_at=generated_at))
    parts += ["<h2>alerts</h2>", _alerts_table(ledger, since)]
    parts.append("</body></html>")
    return "\n".join(parts)
