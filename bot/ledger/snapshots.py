"""Snapshots: every wallet, position and funding rate a cycle read, recorded (append-only,
journaled); and read back as the state they recorded, so that `bot status` and `bot report`
judge a recorded read with the same margin figure (`bot.policy.margin`) as the plan judged it
live.

A read is one venue's rows of one run with one `read_at` (a cycle that moved money records a
second read of the venue in the same run, after the move). The markets are not snapshotted:
a hedged perpetual's market is rebuilt from its unified symbol (`ETH/USDT:USDT`: linear,
settled in USDT; `BTC/USD:BTC`: inverse, settled in BTC) and the futures wallet that holds its
settle asset in that read.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.sql.dml import ReturningInsert

from bot.ledger import journal
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import (
    AccountMarginSnapshot,
    BalanceSnapshot,
    Base,
    FundingSnapshot,
    PositionSnapshot,
)
from bot.model import (
    SPOT,
    AccountMargin,
    MarketKind,
    PerpMarket,
    Position,
    State,
    VenueState,
    Wallet,
)

ReadKey = tuple[int, datetime]  # (run_id, read_at)
T = TypeVar("T")


class SnapshotRecords(LedgerBase):
    """Writes of the reads a cycle made."""

    def record_snapshot(self, run_id: int, state: State) -> None:
        """Store every wallet, position and funding rate that the cycle read, journaled.

        One INSERT ... RETURNING per table for all of the read's rows, journaled from what it
        returned (`journal.wrote`), in the order the rows were made: the ORM's work per
        object (an event per column set) cost a 20-venue cycle ~35 ms of CPU, twice."""
        rows: dict[type[Base], list[dict[str, Any]]] = {}
        order: list[tuple[type[Base], int]] = []

        def add(model: type[Base], **values: Any) -> None:
            table = rows.setdefault(model, [])
            order.append((model, len(table)))
            table.append({"run_id": run_id, **values})

        for venue in state.venues.values():
            read = {"read_at": venue.read_at, "venue": venue.venue}
            for w in venue.wallets.values():
                add(
                    BalanceSnapshot,
                    **read,
                    account=w.account,
                    asset=w.asset,
                    free=w.free,
                    used=w.used,
                    balance=w.balance,
                    unrealized_pnl=w.unrealized_pnl,
                    transferable=w.transferable,
                    cross_balance=w.cross_balance,
                    cross_unrealized_pnl=w.cross_unrealized_pnl,
                )
            for p in venue.positions.values():
                add(
                    PositionSnapshot,
                    **read,
                    symbol=p.symbol,
                    side=p.side,
                    contracts=p.contracts,
                    contract_size=p.contract_size,
                    notional=p.notional,
                    entry_price=p.entry_price,
                    mark_price=p.mark_price,
                    unrealized_pnl=p.unrealized_pnl,
                    initial_margin=p.initial_margin,
                    maintenance_margin=p.maintenance_margin,
                    liquidation_price=p.liquidation_price,
                    margin_mode=p.margin_mode,
                    isolated_wallet=p.isolated_wallet,
                )
            margin = venue.account_margin
            account = _unified_account(venue)
            if margin is not None and account is not None:
                add(
                    AccountMarginSnapshot,
                    **read,
                    account=account,
                    **{f.name: getattr(margin, f.name) for f in fields(AccountMargin)},
                )
            for f in venue.funding.values():
                add(
                    FundingSnapshot,
                    **read,
                    symbol=f.symbol,
                    rate=f.rate,
                    mark_price=f.mark_price,
                    next_funding_at=f.next_funding_at,
                )
        if not order:
            return
        with self._transaction(self._clock()) as session:
            written = {
                model: session.execute(_inserting(model), values).all()
                for model, values in rows.items()
            }
            for model, index in order:
                journal.wrote(session, model, written[model][index]._mapping)


@functools.cache
def _inserting(model: type[Base]) -> ReturningInsert[Any]:
    """Rows of one snapshot table, returned whole and in the order given (their journal body
    is what the database holds)."""
    table = model.__table__
    return insert(table).returning(*table.c, sort_by_parameter_order=True)


def _unified_account(venue: VenueState) -> str | None:
    """The one account a unified venue's perpetuals are margined in, as it was read."""
    if not venue.shared_collateral:
        return None
    accounts = {market.futures_account for market in venue.markets.values()}
    return accounts.pop() if len(accounts) == 1 else None


def market_of(symbol: str, accounts: Iterable[str]) -> PerpMarket | None:
    """A perpetual's market from its unified symbol and the accounts of one read; None when
    the symbol is not a perpetual's (`BASE/QUOTE:SETTLE`)."""
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    if not (base and quote and settle):
        return None
    kind = MarketKind.LINEAR if settle == quote else MarketKind.INVERSE
    futures = sorted(a for a in accounts if a != SPOT)
    account = kind.value if kind.value in futures or len(futures) != 1 else futures[0]
    return PerpMarket(
        symbol=symbol,
        kind=kind,
        base=base,
        quote=quote,
        settle=settle,
        contract_size=Decimal(1),  # not recorded; the margin figure does not use it
        futures_account=account,
    )


def latest_read(ledger: LedgerBase, venue: str, symbols: Iterable[str]) -> VenueState | None:
    """The newest recorded read of `venue`, with markets for the hedged `symbols`."""
    with ledger.engine.connect() as conn:
        newest = conn.execute(
            select(BalanceSnapshot.run_id, BalanceSnapshot.read_at)
            .where(BalanceSnapshot.venue == venue)
            .order_by(BalanceSnapshot.id.desc())
            .limit(1)
        ).first()
    if newest is None:
        return None
    run_id, read_at = newest
    reads = list(recorded_reads(ledger, venue, symbols, run_id=run_id, read_at=read_at))
    return reads[-1] if reads else None


def recorded_reads(
    ledger: LedgerBase,
    venue: str,
    symbols: Iterable[str],
    *,
    since: datetime | None = None,
    run_id: int | None = None,
    read_at: datetime | None = None,
) -> Iterator[VenueState]:
    """Every recorded read of `venue` (or the one of `run_id` at `read_at`), oldest first,
    each as the `VenueState` it recorded, with markets for the hedged `symbols`."""
    symbols = sorted(set(symbols))
    balances = select(BalanceSnapshot).where(BalanceSnapshot.venue == venue)
    positions = select(PositionSnapshot).where(PositionSnapshot.venue == venue)
    if since is not None:
        balances = balances.where(BalanceSnapshot.read_at >= since)
        positions = positions.where(PositionSnapshot.read_at >= since)
    if run_id is not None:
        balances = balances.where(BalanceSnapshot.run_id == run_id)
        positions = positions.where(PositionSnapshot.run_id == run_id)
    if read_at is not None:
        balances = balances.where(BalanceSnapshot.read_at == read_at)
        positions = positions.where(PositionSnapshot.read_at == read_at)
    figures = select(AccountMarginSnapshot).where(AccountMarginSnapshot.venue == venue)
    if since is not None:
        figures = figures.where(AccountMarginSnapshot.read_at >= since)
    if run_id is not None:
        figures = figures.where(AccountMarginSnapshot.run_id == run_id)
    if read_at is not None:
        figures = figures.where(AccountMarginSnapshot.read_at == read_at)
    with ledger.engine.connect() as conn:
        wallet_rows = conn.execute(balances.order_by(BalanceSnapshot.id)).all()
        position_rows = conn.execute(positions.order_by(PositionSnapshot.id)).all()
        figure_rows = conn.execute(figures.order_by(AccountMarginSnapshot.id)).all()
    wallets_by_read, positions_by_read = _by_read(wallet_rows), _by_read(position_rows)
    figure_by_read = {key: rows[-1] for key, rows in _by_read(figure_rows).items()}
    for key in sorted(wallets_by_read, key=lambda k: (k[1], k[0])):
        wallets, positions = wallets_by_read[key], positions_by_read.get(key, [])
        state = _venue_state(venue, key[1], wallets, positions, symbols)
        figure = figure_by_read.get(key)
        yield state if figure is None else _on_unified_account(state, figure)


def _on_unified_account(state: VenueState, row: Any) -> VenueState:
    """A read of a unified account: its perpetuals margined in the recorded account, judged by
    the recorded figure."""
    markets = {
        symbol: replace(market, futures_account=row.account)
        for symbol, market in state.markets.items()
    }
    return replace(
        state,
        markets=markets,
        shared_collateral=True,
        account_margin=_as(AccountMargin, row),
    )


def _by_read(rows: Iterable[Any]) -> dict[ReadKey, list[Any]]:
    """Snapshot rows grouped by the read they belong to: (run, read_at)."""
    grouped: dict[ReadKey, list[Any]] = {}
    for row in rows:
        grouped.setdefault((row.run_id, row.read_at), []).append(row)
    return grouped


def _as(kind: type[T], row: Any) -> T:
    """A snapshot row as the value it recorded: every field of `kind` is a column of the row
    (a field added to the value and the table flows through without a line here)."""
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})  # type: ignore[arg-type]


def _venue_state(
    venue: str,
    read_at: datetime,
    wallet_rows: list,  # type: ignore[type-arg]
    position_rows: list,  # type: ignore[type-arg]
    symbols: list[str],
) -> VenueState:
    wallets = {(r.account, r.asset): _as(Wallet, r) for r in wallet_rows}
    positions = {r.symbol: _as(Position, r) for r in position_rows}
    markets = {}
    for symbol in symbols:
        settle = symbol.partition(":")[2]
        accounts = [account for account, asset in wallets if asset == settle]
        market = market_of(symbol, accounts)
        if market is not None:
            markets[symbol] = market
    return VenueState(
        venue=venue, read_at=read_at, wallets=wallets, positions=positions, markets=markets
    )
