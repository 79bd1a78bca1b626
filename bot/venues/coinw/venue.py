"""The bot's venue for CoinW: `CoinWVenue` reads the `coinw` ccxt exchange into `bot.model`.

What the generic `Venue` would get wrong on CoinW:
- every figure comes from the venue's own digits in `info`; ccxt's unified fields are floats.
- the futures wallet's free money is not `availableMargin` (see `FuturesFigures`), and what
  may leave it is `account/available`, not `free`.
- CoinW may hold one symbol as several positions (split layout); they are merged into one.
- there is no transfer API: the bot records moves as manual, rounded down to 0.01.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final

from bot.errors import VenueUnusable
from bot.model import SPOT, Funding, Position, VenueState, Wallet
from bot.money import ZERO, to_decimal, to_decimal_or_none
from bot.venues.coinw.exchange import (
    FUTURES,
    FUTURES_SETTLE,
    FuturesFigures,
    envelope_data,
    margin_key,
    mark_price_key,
    single_value,
)
from bot.venues.errors import ErrorKind, VenueError
from bot.venues.venue import Venue

#: the step planned (manual) transfers are rounded down to
MANUAL_TRANSFER_STEP: Final = Decimal("0.01")


class CoinWVenue(Venue):
    """CoinW for the bot: two wallets (`spot`, `swap`), exact Decimals, no transfer API."""

    account_aliases: Mapping[str, str] = {
        "main": SPOT,
        "swap": FUTURES,
        "future": FUTURES,
        "futures": FUTURES,
        "perpetual": FUTURES,
        "contract": FUTURES,
    }

    async def connect(self) -> None:
        await super().connect()
        for symbol, market in self._perps.items():
            if market.settle != FUTURES_SETTLE:
                raise VenueUnusable(
                    f"{symbol}: CoinW's futures account API reports {FUTURES_SETTLE} only; "
                    f"hedge a {FUTURES_SETTLE}-margined perpetual such as ETH/USDT:USDT"
                )

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return FUTURES

    def transfer_step(self, asset: str) -> Decimal:
        """CoinW has no transfer API and no currency list: moves are typed in by hand, and
        ccxt's per-currency precision would only echo some market's price tick."""
        return MANUAL_TRANSFER_STEP

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": self.normalize_account(account)}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        account = self.normalize_account(account)
        info = balance.get("info") or {}
        if account == FUTURES:
            return [futures_wallet(info)]
        if account == SPOT:
            return spot_wallets(envelope_data(info) or {})
        return super().parse_wallets(account, balance)

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        return merge_positions(await super().read_positions(symbols), venue=self.name)

    def parse_position(self, raw: Mapping[str, Any]) -> Position | None:
        """From the raw row in `info`, so every figure is the venue's own digits."""
        market = self._perps.get(str(raw.get("symbol")))
        row = raw.get("info")
        if market is None or not isinstance(row, Mapping):
            return None
        contracts = abs(_decimal(row, "currentPiece"))
        if contracts == 0:
            return None
        mark = to_decimal_or_none(row.get(mark_price_key(row)), "markPrice")
        if mark is None:
            raise VenueError(
                ErrorKind.FATAL, self.name, f"position {market.symbol} has no index or mark price"
            )
        return Position(
            symbol=market.symbol,
            side=str(row.get("direction") or "").lower() or "short",
            contracts=contracts,
            contract_size=market.contract_size,
            notional=abs(contracts * market.contract_size * mark),
            entry_price=to_decimal_or_none(row.get("openPrice"), "openPrice"),
            mark_price=mark,
            unrealized_pnl=_decimal(row, "profitUnreal"),
            initial_margin=to_decimal_or_none(row.get(margin_key(row)), "margin"),
            liquidation_price=to_decimal_or_none(row.get("liquidationPrice"), "liquidationPrice"),
        )

    async def read_funding(self, symbol: str) -> Funding:
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        return Funding(
            symbol=symbol,
            rate=to_decimal_or_none(single_value(raw.get("info")), "fundingRate"),
            mark_price=None,
        )

    async def read_state(self) -> VenueState:
        return with_position_losses(await super().read_state())


def _decimal(raw: Mapping[str, Any], key: str) -> Decimal:
    return to_decimal_or_none(raw.get(key), key) or ZERO


def futures_wallet(info: Mapping[str, Any]) -> Wallet:
    """The USDT futures wallet from `fetch_balance(type=swap)`'s `info`."""
    figures = FuturesFigures(
        available_margin=_decimal(info, "availableMargin"),
        available_usdt=_decimal(info, "availableUsdt"),
        held_margin=_decimal(info, "alMargin"),
        frozen=_decimal(info, "alFreeze"),
        coupon=_decimal(info, "almightyGold"),
    )
    return Wallet(
        account=FUTURES,
        asset=FUTURES_SETTLE,
        free=figures.free,
        used=figures.used,
        balance=figures.total,
        transferable=max(ZERO, _decimal(info, "transferable")),
    )


def spot_wallets(data: Mapping[str, Any]) -> list[Wallet]:
    """`returnCompleteBalances` data: `{asset: {available, onOrders}}`."""
    wallets = []
    for asset, entry in sorted(data.items()):
        if not isinstance(entry, Mapping):
            continue
        free = to_decimal(entry.get("available", "0"), "available")
        on_orders = to_decimal(entry.get("onOrders", "0"), "onOrders")
        wallets.append(
            Wallet(
                account=SPOT,
                asset=asset.upper(),
                free=free,
                used=on_orders,
                balance=free + on_orders,
                transferable=free,
            )
        )
    return wallets


def merge_positions(positions: Iterable[Position], *, venue: str) -> list[Position]:
    """One position per symbol: CoinW may hold a symbol as several positions (split layout).

    Rows on one side are summed; the entry price is contract-weighted and the liquidation price
    is the nearest one (lowest for a short, highest for a long). Both sides at once is refused.
    """
    by_symbol: dict[str, list[Position]] = {}
    for position in positions:
        by_symbol.setdefault(position.symbol, []).append(position)
    merged = []
    for symbol, group in by_symbol.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        sides = {p.side for p in group}
        if len(sides) != 1:
            raise VenueError(
                ErrorKind.FATAL,
                venue,
                f"{symbol}: both long and short positions are open; the bot hedges one short "
                "per perpetual, so close one side first",
            )
        contracts = sum((p.contracts for p in group), ZERO)
        entries = [(p.entry_price, p.contracts) for p in group if p.entry_price is not None]
        entry_weight = sum((c for _, c in entries), ZERO)
        liquidations = [p.liquidation_price for p in group if p.liquidation_price is not None]
        margins = [p.initial_margin for p in group if p.initial_margin is not None]
        nearest = min if group[0].side == "short" else max
        merged.append(
            replace(
                group[0],
                contracts=contracts,
                notional=sum((p.notional for p in group), ZERO),
                unrealized_pnl=sum((p.unrealized_pnl for p in group), ZERO),
                entry_price=sum((e * c for e, c in entries), ZERO) / entry_weight
                if entry_weight
                else None,
                initial_margin=sum(margins, ZERO) if margins else None,
                liquidation_price=nearest(liquidations) if liquidations else None,
            )
        )
    return merged


def with_position_losses(state: VenueState) -> VenueState:
    """Count open positions' unrealized losses in the futures wallet's equity, never gains.

    `getUserAssets` reports no unrealized PnL, and the docs do not say whether `availableUsdt`
    already includes it. Counting a loss that may already be included can only understate
    equity (the policy tops up sooner); counting a gain could overstate it, so gains are left
    out.
    """
    losses: dict[tuple[str, str], Decimal] = {}
    for symbol, position in state.positions.items():
        market = state.markets.get(symbol)
        if market is None:
            continue
        key = (market.futures_account, market.settle)
        losses[key] = losses.get(key, ZERO) + position.unrealized_pnl
    wallets = dict(state.wallets)
    for key, pnl in losses.items():
        wallet = wallets.get(key)
        if wallet is not None:
            wallets[key] = replace(wallet, unrealized_pnl=min(ZERO, pnl))
    return replace(state, wallets=wallets)
