"""`bot report`: one self-contained HTML page of a period, per hedge: its margin figure in the
band's own terms (margin ratio, liquidation distance or the unified account's figure) with the
band, the target and the line the guard acts on; mark and liquidation price; futures equity and
short notional; spot and futures balances with the transfers as markers by kind (confirmed by
direction, failed, manual, still open); funding rate on a scale fitted to it, with cumulative
funding income; then the period's transfers (dry runs and skipped sizings apart), funding
income, pauses and alerts as tables.

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
    #: what the band and target are in: "margin ratio", "liquidation distance" or the unified
    #: account's figure (`uniMMR`...)
    terms: str
    #: the line the guard acts on, in the chart's terms: `alerts.danger_margin_ratio` for a
    #: margin ratio, the band's edge on the liquidation side for an account's figure
    danger: Decimal | None
    at: list[datetime] = field(default_factory=list)
    margin_ratio: list[Decimal | None] = field(default_factory=list)
    figure: list[Decimal | None] = field(default_factory=list)  # in `terms`
    mark: list[Decimal | None] = field(default_factory=list)
    liquidation: list[Decimal | None] = field(default_factory=list)
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


def _terms(hedge: HedgeConfig, danger: Decimal) -> tuple[str, Decimal | None]:
    """What the hedge's band is in, and the margin ratio the guard acts under (None on a
    unified account: its line is the band's edge, known from the figure's direction)."""
    if hedge.account_target is not None:
        return hedge.account_target.figure, None
    if hedge.liquidation_target is not None:
        return "liquidation distance", danger
    return "margin ratio", danger


def hedge_series(
    ledger: Ledger,
    name: str,
    hedges: Mapping[str, HedgeConfig],
    since: datetime | None,
    danger: Decimal,
) -> HedgeSeries:
    """One hedge's charts; `hedges`: every configured hedge (a cross pool's ratio needs the
    others in it); `danger`: `alerts.danger_margin_ratio`, where the guard acts."""
    hedge = hedges[name]
    collateral, futures_account = _collateral(hedge.perp)
    terms, line = _terms(hedge, danger)
    series = HedgeSeries(
        name=name,
        venue=hedge.venue,
        perp=hedge.perp,
        collateral=collateral,
        futures_account=futures_account,
        band=hedge.band,
        target=hedge.target_value,
        terms=terms,
        danger=line,
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
        series.at.append(read.read_at)
        series.notional.append(figure.notional)
        series.equity.append(figure.equity)
        series.margin_ratio.append(figure.ratio)
        if figure.account is not None:
            series.figure.append(figure.account.value)
            series.danger = figure.account.danger_edge(hedge.band)
        elif terms == "liquidation distance":
            series.figure.append(figure.liquidation_distance)
        else:
            series.figure.append(figure.ratio)
        series.mark.append(figure.mark_price)
        series.liquidation.append(figure.liquidation_price)
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
        if row.dry_run or row.status in UNMOVED:
            continue  # nothing was sent: they are listed apart, never charted
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


#: transfer rows that sent nothing: shown apart from the moves, never as chart markers
UNMOVED = frozenset({"skipped", "dry_run"})
#: how each kind of transfer is marked on the balances chart: (name, statuses, symbol, color);
#: a confirmed move's marker points the way it went
MARKERS = (
    ("to futures", ("confirmed",), "triangle-up", "#2ca02c"),
    ("to spot", ("confirmed",), "triangle-down", "#ff7f0e"),
    ("failed", ("failed",), "x", "#d62728"),
    ("manual", ("manual",), "diamond", "#9467bd"),
    ("open (pending or unknown)", ("pending", "unknown"), "circle-open", "#7f7f7f"),
)


def _flat_line(x: list[str], value: Decimal, name: str, dash: str, color: str) -> Any:
    import plotly.graph_objects as go

    return go.Scatter(
        x=[x[0], x[-1]] if x else [],
        y=[plain(value)] * (2 if x else 0),
        name=name,
        mode="lines",
        line={"dash": dash, "color": color},
    )


def _fitted_range(values: list[Decimal]) -> list[str] | None:
    """An axis range around `values` with a margin of half their span (or of their size, when
    they are all equal), so a 0.01 % rate is not drawn flat on a +-100 % axis."""
    if not values:
        return None
    low, high = min(values), max(values)
    pad = (high - low) / 2 or max(abs(high), Decimal("0.0001")) / 2
    return [plain(low - pad), plain(high + pad)]


def hedge_figure(series: HedgeSeries) -> Any:
    """The hedge's five charts, one shared time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=5,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        specs=[[{}], [{}], [{}], [{}], [{"secondary_y": True}]],
        subplot_titles=(
            f"{series.terms}: band, target and the line the guard acts on",
            "mark price and liquidation price",
            f"futures equity and short notional ({series.collateral})",
            f"spot and futures balances ({series.collateral}), transfers as markers by kind",
            "funding rate (per period) and cumulative funding income",
        ),
    )
    x = _x(series.at)
    low, high = series.band
    figure.add_trace(go.Scatter(x=x, y=_y(series.figure), name=series.terms), 1, 1)
    for value, label, dash in ((low, "band low", "dot"), (high, "band high", "dot")):
        figure.add_trace(_flat_line(x, value, label, dash, "#888"), 1, 1)
    figure.add_trace(_flat_line(x, series.target, "target", "dash", "#888"), 1, 1)
    if series.terms == "liquidation distance":  # the guard still reads the margin ratio
        figure.add_trace(go.Scatter(x=x, y=_y(series.margin_ratio), name="margin ratio"), 1, 1)
    if series.danger is not None:
        where = "under" if series.terms in ("margin ratio", "liquidation distance") else "beyond"
        guard_terms = "margin ratio" if series.terms == "liquidation distance" else series.terms
        label = f"danger: the guard acts {where} {guard_terms} {plain(series.danger)}"
        figure.add_trace(_flat_line(x, series.danger, label, "solid", "#d62728"), 1, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.mark), name="mark price"), 2, 1)
    figure.add_trace(
        go.Scatter(
            x=x, y=_y(series.liquidation), name="liquidation price", line={"color": "#d62728"}
        ),
        2,
        1,
    )
    figure.add_trace(go.Scatter(x=x, y=_y(series.equity), name="futures equity"), 3, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.notional), name="short notional"), 3, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.spot_balance), name="spot balance"), 4, 1)
    figure.add_trace(go.Scatter(x=x, y=_y(series.futures_balance), name="futures balance"), 4, 1)
    for label, statuses, symbol, color in MARKERS:
        moves = [t for t in series.transfers if t["status"] in statuses]
        if label.startswith("to "):
            moves = [t for t in moves if t["direction"] == label.replace(" ", "_")]
        figure.add_trace(
            go.Scatter(
                x=_x(t["at"] for t in moves),
                y=_y(t["amount"] for t in moves),
                name=f"transfer {label}",
                mode="markers",
                marker={"symbol": symbol, "size": 11, "color": color},
                text=[f"#{t['id']} {t['status']} {plain(t['amount'])} {t['asset']}" for t in moves],
                hovertemplate="%{text}<extra></extra>",
            ),
            4,
            1,
        )
    figure.add_trace(
        go.Scatter(
            x=_x(series.funding_at),
            y=_y(series.funding_rate),
            name="funding rate",
            mode="lines+markers",
        ),
        5,
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
        5,
        1,
        secondary_y=True,
    )
    figure.update_layout(
        height=1350,
        title=f"hedge {series.name}: {series.perp} on {series.venue}",
        legend={"orientation": "h"},
        margin={"l": 60, "r": 60, "t": 80, "b": 40},
    )
    figure.update_yaxes(type="linear")
    figure.update_yaxes(
        tickformat=".4%",
        range=_fitted_range(series.funding_rate),
        row=5,
        col=1,
        secondary_y=False,
    )
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


def _transfers_tables(ledger: Ledger, since: datetime | None) -> tuple[str, str]:
    """The moves, and apart from them the rows that sent nothing (dry runs, sizings under
    `min_amount`): a dry run's row is not money that moved."""
    moved: list[list[Any]] = []
    unmoved: list[list[Any]] = []
    for r in iter_transfer_rows(ledger, TransferFilter(since=since)):
        row = [
            r.id,
            _x([r.created_at])[0],
            r.venue,
            r.hedges,
            direction_of(r.from_account, r.to_account),
            r.amount if r.amount is not None else r.planned_amount,
            r.asset,
            "dry_run" if r.dry_run else r.status,
            r.exchange_id,
            r.error,
        ]
        (unmoved if r.dry_run or r.status in UNMOVED else moved).append(row)
    headers = ["id", "created (UTC)", "venue", "hedges", "direction", "amount", "asset"]
    headers += ["status", "venue id", "error"]
    return _table(headers, moved, {"id", "amount"}), _table(headers, unmoved, {"id", "amount"})


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


def _pauses_table(ledger: Ledger, since: datetime | None) -> str:
    """Every pause a person made in the period: who, why, until when, how it ended."""
    rows = [
        [
            p.scope.value,
            p.name,
            p.paused_by,
            _x([p.paused_at])[0],
            _x([p.until])[0] if p.until else "until resumed",
            p.reason,
            p.state,
            _x([p.ended_at])[0] if p.ended_at else None,
            p.ended_by,
        ]
        for p in ledger.pauses_since(since)
    ]
    headers = ["scope", "name", "by", "paused (UTC)", "until", "reason", "state", "ended"]
    return _table([*headers, "ended by"], rows, set())


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
        series = hedge_series(ledger, name, config.hedges, since, config.alerts.danger_margin_ratio)
        parts.append(f"<h2 id='hedge-{html.escape(name)}'>hedge {html.escape(name)}</h2>")
        if not series.at:
            parts.append('<p class="note">no snapshots of this hedge in this period.</p>')
            continue
        parts.append(
            hedge_figure(series).to_html(
                include_plotlyjs=False, full_html=False, div_id=f"chart-{name}"
            )
        )
    moved, unmoved = _transfers_tables(ledger, since)
    parts += ["<h2>transfers</h2>", moved]
    parts += ["<h2>dry runs and skipped sizings (nothing sent)</h2>", unmoved]
    parts += ["<h2>funding income</h2>", _funding_table(ledger, since)]
    parts.append(carry_section(config, ledger, since=since, generated_at=generated_at))
    parts += ["<h2>pauses</h2>", _pauses_table(ledger, since)]
    parts += ["<h2>alerts</h2>", _alerts_table(ledger, since)]
    parts.append("</body></html>")
    return "\n".join(parts)
