"""The when-flat rule: no open short on any hedge of a pool. Pure."""

from __future__ import annotations

from decimal import Decimal

from bot.money import plain, round_down
from bot.policy.assess import Pool


def flat_return(pool: Pool, step: Decimal) -> tuple[Decimal | None, str]:
    """(amount to return to spot or None, why): `when_flat: return` sends the collateral back,
    `keep` leaves it for the next position."""
    perps = ", ".join(hedge.perp for hedge in pool.hedges)
    if any(hedge.when_flat == "keep" for hedge in pool.hedges):
        return None, f"no open position on {perps}: keeping collateral (when_flat: keep)"
    amount = round_down(pool.futures.balance, step)
    if amount <= 0:
        return None, f"no open position on {perps} and no {pool.asset} collateral"
    return amount, (
        f"no open position on {perps}: return the {pool.asset} collateral "
        f"({plain(amount)}) {pool.futures_account} -> spot (when_flat: return)"
    )
