"""Bybit's account mode, read at connect time and never assumed: which hedges it can carry.

"Get Account Info" (`GET /v5/account/info`, https://bybit-exchange.github.io/docs/v5/acct-mode)
names the mode in `unifiedMarginStatus`: 1 classic account, 3 UTA 1.0, 4 UTA 1.0 Pro, 5 UTA 2.0,
6 UTA 2.0 Pro (2, the old unified margin account, is gone). The bot runs Bybit hedges as one
collateral pool shared by spot and the perpetual, which is what a Unified Trading Account is;
but on a classic account spot and derivatives are separate accounts, and under UTA 1.0 inverse
contracts still trade in a separate inverse derivatives account. Read as unified, either would
say "nothing to move" while the short's margin sits apart: those hedges are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from bot.venues.decode import Decoder

ENDPOINT: Final = "GET /v5/account/info"
CLASSIC: Final = 1
UTA_1: Final = frozenset({3, 4})
UTA_2: Final = frozenset({5, 6})
NAMES: Final = {
    1: "a classic account",
    3: "a Unified Trading Account 1.0",
    4: "a Unified Trading Account 1.0 Pro",
    5: "a Unified Trading Account 2.0",
    6: "a Unified Trading Account 2.0 Pro",
}


def unified_margin_status(decoder: Decoder, answer: Any) -> int:
    """`result.unifiedMarginStatus` of the answer, one of the documented modes."""
    result = decoder.mapping(decoder.field(answer, "result"), "result")
    value = decoder.field(result, "unifiedMarginStatus", "result")
    status = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.isdigit():
        status = int(value)
    if status not in NAMES:
        raise decoder.refuse(
            f"result.unifiedMarginStatus is {value!r}, not one of the documented modes "
            f"({', '.join(map(str, sorted(NAMES)))})"
        )
    return status


def refusal(status: int, inverse_perps: Iterable[str]) -> str | None:
    """Why hedges on these perpetuals cannot run on an account in this mode; None if they can."""
    mode = NAMES[status]
    if status == CLASSIC:
        return (
            f"the Bybit account is {mode} (unifiedMarginStatus 1), where spot and derivatives "
            "are separate accounts; the bot runs Bybit hedges on a Unified Trading Account: "
            "upgrade the account to UTA 2.0"
        )
    inverse = sorted(inverse_perps)
    if status in UTA_1 and inverse:
        return (
            f"the Bybit account is {mode} (unifiedMarginStatus {status}), where inverse "
            f"contracts ({', '.join(inverse)}) trade in a separate inverse derivatives account: "
            "upgrade the account to UTA 2.0, or hedge with a USDT perpetual"
        )
    return None
