"""OKX's account mode, read at connect time and never assumed: whether it can hold the short.

"Get account configuration" (`GET /api/v5/account/config`) names the mode in `acctLv`: 1 Spot
mode, 2 Spot and futures mode (single-currency margin), 3 Multi-currency margin, 4 Portfolio
margin. Spot and swaps share the trading account in every mode, so nothing moves between them;
but in Spot mode the account cannot hold a perpetual short at all, so a hedge there is refused.
In single-currency margin the spot coin is not collateral for the short (each settle currency
margins its own positions).
"""

from __future__ import annotations

from typing import Any, Final

from bot.venues.decode import Decoder

ENDPOINT: Final = "GET /api/v5/account/config"
SPOT_MODE: Final = "1"
SINGLE_CURRENCY: Final = "2"
NAMES: Final = {
    "1": "in Spot mode",
    "2": "in Spot and futures mode",
    "3": "in Multi-currency margin mode",
    "4": "in Portfolio margin mode",
}


def account_level(decoder: Decoder, answer: Any) -> str:
    """`data[0].acctLv` of the answer, one of the documented modes."""
    rows = decoder.sequence(decoder.field(answer, "data"), "data", allow_empty=False)
    value = decoder.field(rows[0], "acctLv", "data[0]")
    level = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if level not in NAMES:
        raise decoder.refuse(
            f"data[0].acctLv is {value!r}, not one of the documented modes "
            f"({', '.join(sorted(NAMES))})"
        )
    return level


def refusal(level: str) -> str | None:
    """Why hedges cannot run on an account at this level; None if they can."""
    if level == SPOT_MODE:
        return (
            f"the OKX account is {NAMES[level]} (acctLv 1), which cannot hold a perpetual "
            "short: switch it to Spot and futures mode or Multi-currency margin mode"
        )
    return None
