"""The trading account's own margin figure, `mgnRatio`, from the answer of "Get balance"
(`GET /api/v5/account/balance`, the answer ccxt's `fetch_balance` for the trading account
already reads): in multi-currency and portfolio margin, the account's adjusted equity (`adjEq`,
USD) over its maintenance margin plus liquidation fees, so 1 (100 %) is liquidation and higher
is safer. OKX sends the maintenance margin (`mmr`) but not the fees, so the requirement the
figure is measured against is taken from the figure itself (`adjEq / mgnRatio`): a target then
means the ratio OKX will report. In single-currency margin (Spot and futures mode) the
account-level ratio is empty: each currency margins only the positions settled in it, with its
own ratio in `details[].mgnRatio` (the one OKX shows on each cross position), its equity `eq`;
the spot coin is no collateral for the short there, and the figure says so (`currency_margin`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from bot.model import AccountMargin
from bot.venues.decode import Decoder, Sign

ENDPOINT: Final = "GET /api/v5/account/balance"
FIGURE: Final = "mgnRatio"
LIQUIDATION_AT: Final = Decimal(1)


def account_margin(decoder: Decoder, info: Any) -> AccountMargin | None:
    """`data[0].mgnRatio` with `data[0].adjEq`; None when OKX sends the ratio empty."""
    rows = decoder.sequence(decoder.field(info, "data"), "data", allow_empty=False)
    raw = decoder.field(rows[0], FIGURE, "data[0]")
    if raw == "":
        return None
    value = decoder.number(raw, f"data[0].{FIGURE}", sign=Sign.POSITIVE)
    equity = decoder.number(decoder.field(rows[0], "adjEq", "data[0]"), "data[0].adjEq")
    return AccountMargin(
        figure=FIGURE,
        value=value,
        liquidation_at=LIQUIDATION_AT,
        higher_is_safer=True,
        equity=equity,
        requirement=equity / value,
    )


def currency_margin(decoder: Decoder, info: Any, ccy: str) -> AccountMargin | None:
    """Single-currency margin: `details[ccy].mgnRatio` over `details[ccy].eq`; None when OKX
    sends the ratio empty (no cross position settled in `ccy`) or lists no `ccy`."""
    rows = decoder.sequence(decoder.field(info, "data"), "data", allow_empty=False)
    details = decoder.sequence(decoder.field(rows[0], "details", "data[0]"), "data[0].details")
    found = [row for row in details if decoder.field(row, "ccy", "data[0].details[]") == ccy]
    if not found:
        return None
    if len(found) > 1:
        raise decoder.refuse(f"data[0].details lists {ccy} {len(found)} times")
    path = f"data[0].details[{ccy}]"
    raw = decoder.field(found[0], FIGURE, path)
    if raw == "":
        return None
    value = decoder.number(raw, f"{path}.{FIGURE}", sign=Sign.POSITIVE)
    equity = decoder.number(decoder.field(found[0], "eq", path), f"{path}.eq")
    return AccountMargin(
        figure=FIGURE,
        value=value,
        liquidation_at=LIQUIDATION_AT,
        higher_is_safer=True,
        equity=equity,
        requirement=equity / value,
        scope=f"{ccy}'s alone: in single-currency margin the spot coin is not collateral",
    )
