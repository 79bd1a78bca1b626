"""Which Binance account the key reaches, classic or Portfolio Margin: detected, never assumed.

The config chooses the mode (ccxt's own switch, `ccxt: {options: {portfolioMargin: true}}`) and
the venue's first read verifies it at no extra cost: a Portfolio Margin account answers the PM
API (`/papi/v1/...`) and refuses the classic futures API (`/fapi`, `/dapi`), a classic account
the reverse; Binance refuses both with the same -2015 "Invalid API-key, IP, or permissions for
action" a wrong key gets (ccxt issue #20905, Binance.Net issue #1485). So only when that read is
refused with -2015 does the venue ask the other API once: if it answers, the config does not fit
the account and the hedges are refused in one line naming the fix; if it refuses too, the key is
at fault and the original error stands with its hint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from bot.errors import VenueError

KEY_REFUSED: Final = "-2015"
CLASSIC_PROBE: Final = "GET /fapi/v3/account"
PORTFOLIO_PROBE: Final = "GET /papi/v1/account"

CLASSIC_ON_PORTFOLIO: Final = (
    "the Binance account is in Portfolio Margin (the classic futures API refuses the key with "
    f"-2015 while {PORTFOLIO_PROBE} answers it): set ccxt: {{options: {{portfolioMargin: "
    "true}}, and give its hedges target: {uniMMR: ...}, reserve_wallet: spot and "
    "spot_leg_wallets: [spot]"
)
PORTFOLIO_ON_CLASSIC: Final = (
    f"the Binance account is a classic account, not Portfolio Margin ({PORTFOLIO_PROBE} "
    f"refuses the key with -2015 while {CLASSIC_PROBE} answers it): remove portfolioMargin "
    "from ccxt.options, or activate Portfolio Margin on Binance"
)


def key_refused(error: BaseException) -> bool:
    """Binance's -2015: a wrong key, or the right key on the other kind of account."""
    return isinstance(error, VenueError) and error.code == KEY_REFUSED


async def other_api_answers(read: Callable[[], Awaitable[Any]]) -> bool:
    """One read of the other API: True when it answers (the account is of the other kind)."""
    try:
        await read()
    except VenueError:
        return False
    return True
