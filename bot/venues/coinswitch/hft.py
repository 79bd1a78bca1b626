"""CoinSwitch PRO's HFT surface, decoded strictly: the HFT account's wallet, its positions, the
answer of Transfer Funds, and the account's settlement currency. Pure: no I/O.

The HFT API (https://dma.coinswitch.co, /hft/reference/) wraps every answer as
`{"retCode", "retMsg", "result"}` and otherwise speaks Bybit v5's dialect under `/v5/...`.
Its reference lists no wallet endpoint: the HFT account's coins are read from
`GET /v5/account/wallet-balance?accountType=UNIFIED`, Bybit v5's, which is what the HFT API
answers there (an assumption the integrator should confirm on a live key).

Sources (https://api-trading.coinswitch.co): /get-started/api-surfaces (envelope, numbers
"mixed; treat as strings"), /hft/reference/ (endpoints), /hft/reference/transfer-funds
(Transfer Funds, the settlement-currency lock, `client_txn_id`), /hft/reference/positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from bot.model import Position, Wallet
from bot.venues.decode import Decoder, Sign, shown

WALLET_BALANCE: Final = "GET /v5/account/wallet-balance"
POSITION_LIST: Final = "GET /v5/position/list"
TRANSFER_FUNDS: Final = "POST /dma/api/v1/funds/transfer"
TRANSFER_PATH: Final = "/dma/api/v1/funds/transfer"
#: the bot's name for the HFT trading account
HFT: Final = "hft"
#: what an HFT account can be locked to, by its first Transfer Funds (`quote_asset`)
SETTLEMENT_ASSETS: Final = frozenset({"USDT", "INR"})
#: Bybit v5's `side` of a position row; "" (or None) is a flat row
SIDES: Final[Mapping[str, str]] = {"Buy": "long", "Sell": "short"}
ZERO: Final = Decimal(0)


def result_of(decoder: Decoder, raw: Any) -> Mapping[str, Any]:
    """The `result` of a successful HFT envelope (`retCode` 0); anything else is refused."""
    answer = decoder.mapping(raw, "the body")
    code = decoder.field(answer, "retCode")
    if isinstance(code, bool) or str(code) != "0":
        raise decoder.refuse(f"retCode is {shown(code)}, not 0")
    return decoder.mapping(decoder.field(answer, "result"), "result", allow_empty=True)


def hft_wallets(decoder: Decoder, raw: Any) -> list[Wallet]:
    """The HFT account's coins: one `UNIFIED` account row whose `coin` rows each name a coin
    once. `walletBalance` is the balance, `unrealisedPnl` its unrealized PnL, the margin its
    positions and orders hold (`totalPositionIM` + `totalOrderIM`) is used.

    What may leave it (GUESS: the HFT pages document no transferable amount): the balance less
    the margin held, less any unrealized loss, never below zero; the venue refusing a transfer
    for want of funds is still the last word (the executor then shrinks)."""
    result = result_of(decoder, raw)
    accounts = decoder.sequence(decoder.field(result, "list", "result"), "result.list")
    if not accounts:
        return []  # not provisioned yet: the first Transfer Funds creates the account
    if len(accounts) != 1:
        raise decoder.refuse(f"result.list holds {len(accounts)} accounts, not one")
    account = decoder.mapping(accounts[0], "result.list[0]")
    kind = decoder.text(account, "accountType", "result.list[0]")
    if kind != "UNIFIED":
        raise decoder.refuse(f"result.list[0].accountType is {shown(kind)}, not UNIFIED")
    rows = decoder.sequence(decoder.field(account, "coin", "result.list[0]"), "coin")
    wallets: dict[str, Wallet] = {}
    for index, raw_row in enumerate(rows):
        row = decoder.mapping(raw_row, f"coin[{index}]")
        asset = decoder.text(row, "coin", f"coin[{index}]").upper()
        at = f"coin[{asset}]"
        if asset in wallets:
            raise decoder.refuse(f"{at} is listed twice")
        balance = decoder.decimal(row, "walletBalance", at, sign=Sign.NON_NEGATIVE)
        pnl = decoder.decimal(row, "unrealisedPnl", at)
        used = decoder.decimal(row, "totalPositionIM", at, sign=Sign.NON_NEGATIVE)
        used += decoder.decimal(row, "totalOrderIM", at, sign=Sign.NON_NEGATIVE)
        free = max(balance - used, ZERO)
        wallets[asset] = Wallet(
            account=HFT,
            asset=asset,
            free=free,
            used=used,
            balance=balance,
            unrealized_pnl=pnl,
            transferable=max(free + min(pnl, ZERO), ZERO),
        )
    return list(wallets.values())


def locked_settlement(wallets: Iterable[Wallet]) -> str | None:
    """The settlement currency the HFT account is locked to, or None before its first
    transfer. The docs offer no endpoint that says it; the account's coins do: an account
    funded in USDT holds a USDT row (and never an INR one), and the reverse. Two of them is a
    contradiction, refused by the caller (`ValueError`)."""
    held = sorted({w.asset for w in wallets} & SETTLEMENT_ASSETS)
    if len(held) > 1:
        raise ValueError(f"the HFT account lists both {' and '.join(held)}")
    return held[0] if held else None


def settlement_refusal(locked: str | None, asset: str) -> str | None:
    """Why a transfer (or a hedge settling) in `asset` cannot go to this HFT account, or
    None. Pure."""
    if asset not in SETTLEMENT_ASSETS:
        return f"the HFT account takes USDT or INR only, not {asset}"
    if locked is not None and asset != locked:
        return (
            f"the HFT account's settlement currency is locked to {locked} by its first "
            f"transfer, so it cannot take {asset} (ask api@coinswitch.co to switch it)"
        )
    return None


def hft_positions(
    decoder: Decoder, rows: Iterable[object], markets: Mapping[str, Any]
) -> list[Position]:
    """GET /v5/position/list rows of the markets in `markets` (by venue id, upper case, each a
    `PerpMarket`) as positions; a row of size 0 (side "") is flat, a perpetual open on two rows
    is refused (the bot hedges one short per perpetual)."""
    positions: dict[str, Position] = {}
    for index, raw in enumerate(rows):
        row = decoder.mapping(raw, f"result.list[{index}]")
        market_id = decoder.text(row, "symbol", f"result.list[{index}]").upper()
        market = markets.get(market_id)
        if market is None:
            continue
        at = f"result.list[{market_id}]"
        size = decoder.decimal(row, "size", at, sign=Sign.NON_NEGATIVE)
        if size == 0:
            continue
        side_text = row.get("side")
        side = SIDES.get(side_text) if isinstance(side_text, str) else None
        if side is None:
            raise decoder.refuse(f"{at}.side is {shown(side_text)}, not Buy or Sell")
        if market.symbol in positions:
            raise decoder.refuse(
                f"{at} is open on two rows; the bot hedges one short per perpetual"
            )
        positions[market.symbol] = Position(
            symbol=market.symbol,
            side=side,
            contracts=size,
            contract_size=market.contract_size,
            notional=decoder.decimal(row, "positionValue", at, sign=Sign.NON_NEGATIVE),
            entry_price=decoder.decimal(row, "avgPrice", at, sign=Sign.POSITIVE),
            mark_price=decoder.decimal(row, "markPrice", at, sign=Sign.POSITIVE),
            unrealized_pnl=decoder.decimal(row, "unrealisedPnl", at),
            initial_margin=decoder.optional_decimal(row, "positionIM", at, sign=Sign.NON_NEGATIVE),
            maintenance_margin=decoder.optional_decimal(
                row, "positionMM", at, sign=Sign.NON_NEGATIVE
            ),
            liquidation_price=decoder.optional_decimal(row, "liqPrice", at, sign=Sign.NON_NEGATIVE),
            margin_mode="cross",
        )
    return list(positions.values())


def transfer_reply(
    decoder: Decoder, raw: Any, *, client_txn_id: str, direction: str, amount: Decimal
) -> str:
    """The `txn_id` of a Transfer Funds success, which must echo what was sent: our
    `client_txn_id`, the direction and the amount (a number, compared exactly)."""
    result = result_of(decoder, raw)
    echoed = decoder.text(result, "client_txn_id", "result")
    if echoed != client_txn_id:
        raise decoder.refuse(f"result.client_txn_id is {shown(echoed)}, not {client_txn_id}")
    said = decoder.text(result, "direction", "result")
    if said != direction:
        raise decoder.refuse(f"result.direction is {shown(said)}, not {direction}")
    moved = decoder.decimal(result, "amount", "result", sign=Sign.POSITIVE)
    if moved != amount:
        raise decoder.refuse(f"result.amount is {moved}, not the {amount} sent")
    return decoder.text(result, "txn_id", "result")
