"""What a Binance pool read in its USD figures (Portfolio Margin, USD-M multi-assets) asks of a
hedge: the spot leg counted in the spot wallet (the pool is not read per coin), and cross
positions only."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import HedgeConfig
from bot.errors import VenueUnusable
from bot.model import ISOLATED, SPOT


def check_usd_pool_hedge(
    hedge_name: str, hedge: HedgeConfig, pool: str, normalize: Callable[[str], str]
) -> None:
    """Refuse, in one line naming the fix, a hedge such a pool cannot judge (`pool` names it:
    "binance's Portfolio Margin account")."""
    if SPOT not in (normalize(w) for w in hedge.spot_leg_wallets):
        raise VenueUnusable(
            f"hedges.{hedge_name}.spot_leg_wallets: {pool} is read in its USD figures, not per "
            "coin, so the spot leg is counted in the spot wallet: set spot_leg_wallets: [spot]"
        )
    if hedge.margin_mode == ISOLATED:
        raise VenueUnusable(
            f"hedges.{hedge_name}.margin_mode: {pool} holds cross positions only: drop "
            "margin_mode: isolated"
        )
