"""The carry's inputs read from the ledger: each hedge's funding payments and, from every
recorded read of its venue, the capital it tied up (`bot.funding.carry` does the sums).

Capital per read, in the perpetual's settle asset:
- spot leg at mark: the base coin held in spot and the hedge's `spot_leg_wallets` (on a unified
  account, in the account the short is margined in), times the position's mark price on a
  linear perpetual; the coin itself on an inverse one (it is the settle asset);
- futures collateral: the equity of the pool that margins the short (`hedge_margins`, as the
  plan judges it), shared between the hedges of a cross pool in proportion to their short
  notional; an isolated position's own equity.
A read without the hedge's position, or without a mark, gives no figure: the previous one
stands (a flat hedge earns no funding and ties up nothing the carry should count).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from bot.config import Config, HedgeConfig
from bot.funding.carry import (
    Bucket,
    CapitalRead,
    CarryReport,
    CurrentRate,
    Fee,
    Payment,
    carry_report,
)
from bot.funding.intervals import known_interval
from bot.ledger.snapshots import recorded_reads
from bot.ledger.store import Ledger
from bot.ledger.tables import BalanceSnapshot, FundingPayment, FundingSnapshot
from bot.model import SPOT, MarketKind, State, VenueState
from bot.money import ZERO
from bot.policy.margin import hedge_margins


def settle_asset(perp: str) -> str:
    """The settle asset of a unified perpetual symbol (ETH/USDT:USDT -> USDT)."""
    pair, _, settle = perp.partition(":")
    return settle or pair.partition("/")[2]


def hedge_assets(hedges: Mapping[str, HedgeConfig]) -> dict[str, tuple[str, str]]:
    """name -> (venue, settle asset): what `carry_report` groups by."""
    return {name: (h.venue, settle_asset(h.perp)) for name, h in hedges.items()}


def funding_payments(
    ledger: Ledger, hedges: Iterable[str], start: datetime, end: datetime
) -> list[Payment]:
    """The payments booked on `hedges` in [start, end), oldest first."""
    wanted = sorted(set(hedges))
    query = (
        select(
            FundingPayment.hedge,
            FundingPayment.venue,
            FundingPayment.asset,
            FundingPayment.amount,
            FundingPayment.at,
        )
        .where(
            FundingPayment.hedge.in_(wanted),
            FundingPayment.at >= start,
            FundingPayment.at < end,
        )
        .order_by(FundingPayment.at, FundingPayment.id)
    )
    with ledger.engine.connect() as connection:
        return [
            Payment(hedge=r.hedge, venue=r.venue, asset=r.asset, amount=r.amount, at=r.at)
            for r in connection.execute(query)
        ]


def transfer_fees(
    ledger: Ledger, hedges: Iterable[str], start: datetime, end: datetime
) -> list[Fee]:
    """Fees the ledger recorded on the hedges' transfers. None today: the transfers the bot
    makes are between one venue's own wallets, which the supported venues do not charge for,
    and no venue reports a fee on them; a venue that does would record it here."""
    return []


def capital_reads(
    ledger: Ledger, config: Config, hedges: Iterable[str], start: datetime, end: datetime
) -> list[CapitalRead]:
    """Every hedge's capital at each recorded read of its venue in [start, end), with the
    newest read before `start` (its figure stands from `start`)."""
    wanted = {name: config.hedges[name] for name in hedges}
    found: list[CapitalRead] = []
    for venue in sorted({h.venue for h in wanted.values()}):
        on_venue = {n: h for n, h in config.hedges.items() if h.venue == venue}
        mine = {n: h for n, h in wanted.items() if h.venue == venue}
        for read in _reads(ledger, venue, [h.perp for h in on_venue.values()], start, end):
            found.extend(read_capital(read, on_venue, mine))
    return found


def _reads(
    ledger: Ledger, venue: str, perps: list[str], start: datetime, end: datetime
) -> Iterator[VenueState]:
    with ledger.engine.connect() as connection:
        before = connection.execute(
            select(BalanceSnapshot.run_id, BalanceSnapshot.read_at)
            .where(BalanceSnapshot.venue == venue, BalanceSnapshot.read_at < start)
            .order_by(BalanceSnapshot.read_at.desc(), BalanceSnapshot.id.desc())
            .limit(1)
        ).first()
    if before is not None:
        yield from recorded_reads(ledger, venue, perps, run_id=before[0], read_at=before[1])
    for read in recorded_reads(ledger, venue, perps, since=start):
        if read.read_at < end:
            yield read


def read_capital(
    read: VenueState, on_venue: Mapping[str, HedgeConfig], wanted: Mapping[str, HedgeConfig]
) -> list[CapitalRead]:
    """The capital of each `wanted` hedge in one read; `on_venue`: every hedge of the venue
    (the hedges sharing a cross pool share its equity)."""
    margins = hedge_margins(State(read_at=read.read_at, venues={read.venue: read}), on_venue)
    pools: dict[str, Decimal] = {}
    for name, figure in margins.items():
        position = read.positions.get(on_venue[name].perp)
        if position is not None:
            pools[figure.pool] = pools.get(figure.pool, ZERO) + abs(position.notional)
    found = []
    for name, hedge in sorted(wanted.items()):
        figure = margins.get(name)
        position = read.positions.get(hedge.perp)
        market = read.markets.get(hedge.perp)
        if figure is None or position is None or market is None or not position.mark_price:
            continue
        pool_notional = pools.get(figure.pool, ZERO)
        share = abs(position.notional) / pool_notional if pool_notional else ZERO
        spot = market.futures_account if read.shared_collateral else SPOT
        accounts = tuple(dict.fromkeys((spot, *hedge.spot_leg_wallets)))
        coins = sum((read.wallet(account, market.base).balance for account in accounts), ZERO)
        linear = market.kind is MarketKind.LINEAR
        found.append(
            CapitalRead(
                hedge=name,
                venue=read.venue,
                asset=market.settle,
                at=read.read_at,
                spot_value=coins * position.mark_price if linear else coins,
                futures_collateral=figure.equity * share,
            )
        )
    return found


def current_rates(
    ledger: Ledger, config: Config, hedges: Iterable[str], end: datetime
) -> dict[str, CurrentRate]:
    """Each hedge's newest funding rate read before `end`, with the interval last seen for
    its perpetual (`funding.intervals`; unknown until `bot run` has read one)."""
    found: dict[str, CurrentRate] = {}
    with ledger.engine.connect() as connection:
        for name in sorted(hedges):
            hedge = config.hedges[name]
            row = connection.execute(
                select(FundingSnapshot.rate, FundingSnapshot.read_at)
                .where(
                    FundingSnapshot.venue == hedge.venue,
                    FundingSnapshot.symbol == hedge.perp,
                    FundingSnapshot.rate.is_not(None),
                    FundingSnapshot.read_at < end,
                )
                .order_by(FundingSnapshot.read_at.desc(), FundingSnapshot.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                interval = known_interval(config.data_dir, hedge.venue, hedge.perp)
                found[name] = CurrentRate(rate=row.rate, at=row.read_at, interval=interval)
    return found


def load_carry(
    ledger: Ledger,
    config: Config,
    start: datetime,
    end: datetime,
    by: Bucket | None = None,
    hedges: Iterable[str] | None = None,
) -> CarryReport:
    """The carry report of `hedges` (default: every configured hedge) over [start, end)."""
    names = sorted(hedges) if hedges is not None else sorted(config.hedges)
    return carry_report(
        hedge_assets({n: config.hedges[n] for n in names}),
        funding_payments(ledger, names, start, end),
        capital_reads(ledger, config, names, start, end),
        transfer_fees(ledger, names, start, end),
        start,
        end,
        by,
        current_rates(ledger, config, names, end),
    )
