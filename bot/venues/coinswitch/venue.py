"""The bot's venue for CoinSwitch PRO: `CoinSwitchVenue` reads the `coinswitch` ccxt exchange
into `bot.model` values.

It adapts what the generic `Venue` gets wrong here: the futures wallet's account name, what is
transferable (the raw strings, not floats), and the unrealized PnL, which the futures wallet
endpoint does not report. There is no transfer API: the bot records moves as manual.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from bot.model import SPOT, Position, VenueState, Wallet
from bot.money import ZERO, to_decimal, to_decimal_or_none
from bot.venues.coinswitch.exchange import FUTURES
from bot.venues.venue import Venue


class CoinSwitchVenue(Venue):
    """CoinSwitch: a 'spot' and a 'futures' wallet, no transfer API (moves are manual)."""

    account_aliases: Mapping[str, str] = {
        "main": SPOT,
        "swap": FUTURES,
        "future": FUTURES,
        "linear": FUTURES,
    }

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return FUTURES

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": self.normalize_account(account)}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        """Wallets from the raw strings in `info`: ccxt's unified numbers are floats."""
        account = self.normalize_account(account)
        info = balance.get("info") or {}
        if account == SPOT:
            return spot_wallets(info)
        if account == FUTURES:
            return futures_wallets(info)
        return super().parse_wallets(account, balance)

    def parse_position(self, raw: Mapping[str, Any]) -> Position | None:
        """The position from the venue's own strings (Get Positions), not ccxt's floats."""
        info = raw.get("info")
        market = self._perps.get(raw.get("symbol") or "")
        if not isinstance(info, Mapping) or market is None:
            return super().parse_position(raw)
        return position_from_info(info, market.symbol, market.contract_size)

    async def read_state(self) -> VenueState:
        return with_position_pnl(await super().read_state())


def spot_wallets(info: Mapping[str, Any]) -> list[Wallet]:
    """Portfolio rows: main_balance is what is available (and transferable), blocked is in
    open orders."""
    wallets = []
    for row in info.get("data") or []:
        free = to_decimal(row.get("main_balance", "0"), "main_balance")
        blocked = to_decimal_or_none(row.get("blocked_balance_order"), "blocked_balance_order")
        used = blocked if blocked is not None else ZERO
        wallets.append(
            Wallet(
                account=SPOT,
                asset=str(row["currency"]).upper(),
                free=free,
                used=used,
                balance=free + used,
                transferable=max(ZERO, free),
            )
        )
    return wallets


def futures_wallets(info: Mapping[str, Any]) -> list[Wallet]:
    """wallet_balance totals per settlement asset; total_available_balance is transferable."""
    wallets = []
    for entry in (info.get("data") or {}).get("base_asset_balances") or []:
        balances = entry.get("balances") or {}
        available = to_decimal(balances.get("total_available_balance", "0"), "total_available")
        wallets.append(
            Wallet(
                account=FUTURES,
                asset=str(entry["base_asset"]).upper(),
                free=available,
                used=to_decimal(balances.get("total_blocked_balance", "0"), "total_blocked"),
                balance=to_decimal(balances.get("total_balance", "0"), "total_balance"),
                transferable=max(ZERO, available),
            )
        )
    return wallets


def position_from_info(
    info: Mapping[str, Any], symbol: str, contract_size: Decimal
) -> Position | None:
    """One Get Positions row as a `Position`; None when it holds nothing."""
    contracts = abs(to_decimal(info.get("position_size", "0"), "position_size"))
    if contracts == 0:
        return None
    return Position(
        symbol=symbol,
        side=str(info.get("position_side") or "").lower() or "short",
        contracts=contracts,
        contract_size=contract_size,
        notional=abs(to_decimal(info.get("position_value", "0"), "position_value")),
        entry_price=to_decimal_or_none(info.get("avg_entry_price"), "avg_entry_price"),
        mark_price=to_decimal_or_none(info.get("mark_price"), "mark_price"),
        unrealized_pnl=to_decimal_or_none(info.get("unrealised_pnl"), "unrealised_pnl") or ZERO,
        initial_margin=to_decimal_or_none(info.get("position_margin"), "position_margin"),
        maintenance_margin=to_decimal_or_none(info.get("maint_margin"), "maint_margin"),
        liquidation_price=to_decimal_or_none(info.get("liquidation_price"), "liquidation_price"),
    )


def with_position_pnl(state: VenueState) -> VenueState:
    """Add the positions' unrealized PnL to the futures wallets of their settle currency.

    wallet_balance reports total = available + blocked (position and order margin) and no
    unrealized PnL, while the policy's equity is balance + unrealized PnL.
    """
    pnl_by_asset: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for symbol, position in state.positions.items():
        market = state.markets.get(symbol)
        if market is not None:
            pnl_by_asset[market.settle] += position.unrealized_pnl
    if not pnl_by_asset:
        return state
    wallets = dict(state.wallets)
    for asset, pnl in pnl_by_asset.items():
        wallet = state.wallet(FUTURES, asset)
        wallets[(FUTURES, asset)] = replace(wallet, unrealized_pnl=wallet.unrealized_pnl + pnl)
    return replace(state, wallets=wallets)
