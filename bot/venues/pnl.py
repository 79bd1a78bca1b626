"""One rule for unrealized PnL on the venues whose futures wallet does not report it.

The policy's futures equity is `Wallet.balance + Wallet.unrealized_pnl`. Where the wallet
endpoint gives no unrealized PnL, the venue adds it from the open positions by this rule:

    each open position counts its unrealized loss and ignores its gain,
    so a wallet's unrealized PnL is the sum over its positions of min(0, position PnL).

Per position, not per wallet: summing first would let a gain on one position hide a loss on
another (a +200 long and a -150 short would count 0). A loss counted that the venue's totals
may already include can only understate equity, so the policy tops up a little early; a gain
counted that they may not allow to be used could overstate it, and a top-up would come late.

What the venues' docs say, which is why both use the rule:
- CoinW, "Get Futures Account Assets" (GET /v1/perpum/account/getUserAssets,
  https://www.coinw.com/api-doc/en/futures-trading/assets/get-futures-account-assets):
  `availableMargin` (including the Mega Coupon), `availableUsdt`, `alMargin` (held by filled
  orders), `alFreeze` (held by unfilled orders), `almightyGold`; no unrealized PnL field, and
  nothing on whether `availableUsdt` already counts it.
- CoinSwitch PRO, "Get Wallet Balance" (GET /trade/api/v2/futures/wallet_balance,
  https://api-trading.coinswitch.co): `total_balance` "Total wallet balance",
  `total_available_balance` "Available for new orders/positions or for Add Margin",
  `total_blocked_balance` "Locked in open orders + active positions"; no unrealized PnL field,
  and nothing saying the totals include it.
Neither says its totals include unrealized PnL, so neither is exempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from bot.model import Position, VenueState
from bot.money import ZERO
from bot.venues.errors import ErrorKind, VenueError


def counted_pnl(unrealized_pnl: Decimal) -> Decimal:
    """What one position's unrealized PnL adds to equity: its loss, never its gain."""
    return min(ZERO, unrealized_pnl)


def counted_losses(positions: Iterable[Position]) -> Decimal:
    """The unrealized PnL a wallet holding `positions` counts: the sum of their losses."""
    return sum((counted_pnl(p.unrealized_pnl) for p in positions), ZERO)


def with_unrealized_losses(state: VenueState) -> VenueState:
    """`state` with each futures wallet's unrealized PnL set by the rule above.

    Positions are grouped by the wallet that margins them (`futures_account`, `settle`). An open
    position whose wallet the venue did not report is refused rather than dropped: its loss
    would otherwise vanish from equity.
    """
    by_wallet: dict[tuple[str, str], list[Position]] = {}
    for symbol, position in state.positions.items():
        market = state.markets.get(symbol)
        if market is None:
            raise VenueError(
                ErrorKind.UNTRUSTED, state.venue, f"position {symbol} is on no hedged market"
            )
        by_wallet.setdefault((market.futures_account, market.settle), []).append(position)
    wallets = dict(state.wallets)
    for (account, asset), positions in by_wallet.items():
        wallet = wallets.get((account, asset))
        if wallet is None:
            symbols = ", ".join(sorted(p.symbol for p in positions))
            raise VenueError(
                ErrorKind.UNTRUSTED,
                state.venue,
                f"positions are open on {symbols} but the {account} wallet reported no {asset}",
            )
        wallets[(account, asset)] = replace(wallet, unrealized_pnl=counted_losses(positions))
    return replace(state, wallets=wallets)
