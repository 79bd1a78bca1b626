"""Hyperliquid's own `/info` and `/exchange` answers, decoded strictly from its strings.

ccxt's unified reads of Hyperliquid lose what the bot needs (its `fetch_balance` of the perp
wallet has no transferable figure, its `fetch_ledger` drops the transfer's direction and does
not page), so the bot asks `/info` through ccxt's implicit `publicPostInfo` and reads the answers
here: `clearinghouseState` (the perp wallet: account value, margin used, maintenance margin,
`withdrawable`, positions with `liquidationPx`), `spotClearinghouseState` (spot balances),
`userNonFundingLedgerUpdates` (the `accountClassTransfer` entries that prove a transfer) and
`userAbstraction` (the account's mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bot.model import CROSS, ISOLATED, SPOT, Position, VenueTransfer, Wallet
from bot.money import ZERO
from bot.venues.base import FundingPayment
from bot.venues.decode import Decoder, Sign

SWAP: Final = "swap"  # ccxt's name for the perp wallet
USDC: Final = "USDC"
CLEARINGHOUSE: Final = "POST /info clearinghouseState"
SPOT_CLEARINGHOUSE: Final = "POST /info spotClearinghouseState"
LEDGER_UPDATES: Final = "POST /info userNonFundingLedgerUpdates"
USER_FUNDING: Final = "POST /info userFunding"
ABSTRACTION: Final = "POST /info userAbstraction"
EXCHANGE: Final = "POST /exchange usdClassTransfer"
CLASS_TRANSFER: Final = "accountClassTransfer"
#: abstraction modes whose spot and perp balances are one pool: `usdClassTransfer` means
#: nothing there, and the bot's spot/perp arithmetic would be wrong
UNIFIED_MODES: Final = frozenset({"unifiedAccount", "portfolioMargin"})
#: the modes whose spot and perp wallets stay apart (HIP-3 dex abstraction moves collateral
#: for the builder-deployed dexes only; the USDC perp dex is unchanged)
SEPARATE_MODES: Final = frozenset({"default", "disabled", "dexAbstraction"})


@dataclass(frozen=True)
class PerpAccount:
    """The perp wallet as `clearinghouseState` tells it."""

    wallet: Wallet
    positions: dict[str, Position]  # by coin
    held: dict[str, Decimal]  # margin used, by coin


@dataclass(frozen=True)
class PerpMarket:
    """What the bot knows of a hedged perp from the markets: its symbol, contract size, and
    `maxLeverage` (meta's universe), whose half is the maintenance margin's leverage
    (Hyperliquid's "Margining": maintenance margin is half the initial margin at max
    leverage)."""

    symbol: str
    contract_size: Decimal
    max_leverage: int | None


def perp_account(decoder: Decoder, raw: Any, markets: Mapping[str, PerpMarket]) -> PerpAccount:
    """`clearinghouseState` -> the USDC perp wallet and the positions of `markets` (by coin).
    The wallet's balance is the account value less the positions' unrealized PnL; its cross
    figures are `crossMarginSummary`'s; what may leave is `withdrawable`."""
    answer = decoder.mapping(raw)
    summary = decoder.mapping(decoder.field(answer, "marginSummary"), "marginSummary")
    cross = decoder.mapping(decoder.field(answer, "crossMarginSummary"), "crossMarginSummary")
    value = decoder.decimal(summary, "accountValue", "marginSummary", sign=Sign.NON_NEGATIVE)
    used = decoder.decimal(summary, "totalMarginUsed", "marginSummary", sign=Sign.NON_NEGATIVE)
    cross_value = decoder.decimal(
        cross, "accountValue", "crossMarginSummary", sign=Sign.NON_NEGATIVE
    )
    decoder.decimal(answer, "crossMaintenanceMarginUsed", sign=Sign.NON_NEGATIVE)
    withdrawable = decoder.decimal(answer, "withdrawable", sign=Sign.NON_NEGATIVE)
    if withdrawable > value:
        raise decoder.refuse(
            f"withdrawable {withdrawable} is more than the account value {value}: the two "
            "figures disagree"
        )
    rows = decoder.sequence(decoder.field(answer, "assetPositions"), "assetPositions")
    positions: dict[str, Position] = {}
    held: dict[str, Decimal] = {}
    pnl = cross_pnl = ZERO
    for index, row in enumerate(rows):
        path = f"assetPositions[{index}].position"
        entry = decoder.mapping(decoder.field(row, "position", f"assetPositions[{index}]"), path)
        coin = decoder.text(entry, "coin", path)
        if coin in held:
            raise decoder.refuse(f"two entries for the position of {coin}")
        szi = decoder.decimal(entry, "szi", path)
        upnl = decoder.decimal(entry, "unrealizedPnl", path)
        margin = decoder.decimal(entry, "marginUsed", path, sign=Sign.NON_NEGATIVE)
        leverage = decoder.mapping(decoder.field(entry, "leverage", path), f"{path}.leverage")
        mode = decoder.text(leverage, "type", f"{path}.leverage")
        if mode not in (CROSS, ISOLATED):
            raise decoder.refuse(f"{path}.leverage.type is {mode!r}, not cross or isolated")
        held[coin] = margin
        pnl += upnl
        if mode == CROSS:
            cross_pnl += upnl
        if coin not in markets or szi == 0:
            continue
        market = markets[coin]
        value_of = decoder.decimal(entry, "positionValue", path, sign=Sign.POSITIVE)
        size = abs(szi)
        maintenance = value_of / (2 * market.max_leverage) if market.max_leverage else None
        positions[coin] = Position(
            symbol=market.symbol,
            side="short" if szi < 0 else "long",
            contracts=size / market.contract_size,
            contract_size=market.contract_size,
            notional=value_of,
            entry_price=decoder.decimal(entry, "entryPx", path, sign=Sign.POSITIVE),
            mark_price=value_of / size,
            unrealized_pnl=upnl,
            initial_margin=margin,
            maintenance_margin=maintenance,
            liquidation_price=decoder.optional_decimal(
                entry, "liquidationPx", path, sign=Sign.NON_NEGATIVE
            ),
            margin_mode=mode,
            isolated_wallet=margin - upnl if mode == ISOLATED else None,
        )
    wallet = Wallet(
        account=SWAP,
        asset=USDC,
        free=max(ZERO, value - used),
        used=used,
        balance=value - pnl,
        unrealized_pnl=pnl,
        transferable=withdrawable,
        cross_balance=cross_value - cross_pnl,
        cross_unrealized_pnl=cross_pnl,
    )
    return PerpAccount(wallet=wallet, positions=positions, held=held)


def spot_wallets(decoder: Decoder, raw: Any, codes: Mapping[str, str]) -> list[Wallet]:
    """`spotClearinghouseState` -> one spot wallet per coin (`codes` maps Hyperliquid's token
    names, such as UETH, to the unified codes of the markets, ETH); free is total less hold."""
    answer = decoder.mapping(raw, allow_empty=False)
    rows = decoder.sequence(decoder.field(answer, "balances"), "balances")
    wallets = []
    for index, row in enumerate(rows):
        path = f"balances[{index}]"
        coin = decoder.text(row, "coin", path)
        total = decoder.decimal(row, "total", path, sign=Sign.NON_NEGATIVE)
        hold = decoder.decimal(row, "hold", path, sign=Sign.NON_NEGATIVE)
        if hold > total:
            raise decoder.refuse(f"{path}: hold {hold} is more than total {total}")
        wallets.append(
            Wallet(
                account=SPOT,
                asset=codes.get(coin, coin),
                free=total - hold,
                used=hold,
                balance=total,
                transferable=total - hold,
            )
        )
    decoder.unique((w.asset for w in wallets), "the balance of")
    return wallets


def abstraction(decoder: Decoder, raw: Any) -> str:
    """`userAbstraction`: the account's mode, a JSON string (ccxt hands a body that is a bare
    JSON string over as its text, quotes and all)."""
    if isinstance(raw, str) and len(raw) > 1 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    if not isinstance(raw, str) or raw not in UNIFIED_MODES | SEPARATE_MODES:
        known = ", ".join(sorted(UNIFIED_MODES | SEPARATE_MODES))
        raise decoder.refuse(f"the answer is {raw!r}, not one of {known}")
    return raw


@dataclass(frozen=True)
class LedgerPage:
    entries: list[VenueTransfer]  # the accountClassTransfer entries
    rows: int  # every update on the page, of any type
    last_time: int | None  # the newest update's time (ms), for the next page's startTime


def entry_time(decoder: Decoder, row: Any, path: str) -> int:
    """An update's `time`: milliseconds, an integer (paging resumes from it)."""
    at = decoder.field(row, "time", path)
    if isinstance(at, bool) or not isinstance(at, int) or not 0 < at < 10**14:
        raise decoder.refuse(f"{path}.time is {at!r}, not a time in ms")
    return at


def ledger_page(decoder: Decoder, raw: Any) -> LedgerPage:
    """One answer of `userNonFundingLedgerUpdates`: every update needs a time and a hash; the
    `accountClassTransfer` ones become transfers (spot -> swap when `toPerp`), their id the
    update's hash. An update of another type (deposits, sends, liquidations...) is skipped."""
    rows = decoder.sequence(raw, "the answer")
    entries = []
    last = None
    for index, row in enumerate(rows):
        path = f"[{index}]"
        at = entry_time(decoder, row, path)
        last = at if last is None else max(last, at)
        tx_hash = decoder.text(row, "hash", path)
        delta = decoder.mapping(decoder.field(row, "delta", path), f"{path}.delta")
        if decoder.text(delta, "type", f"{path}.delta") != CLASS_TRANSFER:
            continue
        to_perp = decoder.field(delta, "toPerp", f"{path}.delta")
        if not isinstance(to_perp, bool):
            raise decoder.refuse(f"{path}.delta.toPerp is {to_perp!r}, not true or false")
        entries.append(
            VenueTransfer(
                exchange_id=tx_hash,
                client_id=None,
                asset=USDC,
                amount=decoder.decimal(delta, "usdc", f"{path}.delta", sign=Sign.POSITIVE),
                from_account=SPOT if to_perp else SWAP,
                to_account=SWAP if to_perp else SPOT,
                at=datetime.fromtimestamp(at / 1000, UTC),
                status="ok",
            )
        )
    decoder.unique((e.exchange_id for e in entries), "the transfer")
    return LedgerPage(entries=entries, rows=len(rows), last_time=last)


@dataclass(frozen=True)
class FundingPage:
    payments: list[FundingPayment]  # the hedged coins' payments
    rows: int  # every entry on the page
    last_time: int | None  # the newest entry's time (ms), for the next page's startTime


def funding_page(decoder: Decoder, raw: Any, perps: Mapping[str, str]) -> FundingPage:
    """One answer of `userFunding`: entries `{time, hash, delta: {type: funding, coin, usdc,
    szi, fundingRate}}`, `usdc` positive received, negative paid. Hyperliquid sends every
    funding entry's hash as zeros, so a payment's id is its time and coin (one payment per
    coin per hour). `perps`: the hedged coins' perpetual symbols; other coins are skipped."""
    rows = decoder.sequence(raw, "the answer")
    payments = []
    last = None
    for index, row in enumerate(rows):
        path = f"[{index}]"
        at = entry_time(decoder, row, path)
        last = at if last is None else max(last, at)
        delta = decoder.mapping(decoder.field(row, "delta", path), f"{path}.delta")
        if decoder.text(delta, "type", f"{path}.delta") != "funding":
            raise decoder.refuse(f"{path}.delta.type is not funding")
        coin = decoder.text(delta, "coin", f"{path}.delta")
        amount = decoder.decimal(delta, "usdc", f"{path}.delta")
        if coin not in perps:
            continue
        payments.append(
            FundingPayment(
                exchange_id=f"{at}:{coin}",
                symbol=perps[coin],
                asset=USDC,
                amount=amount,
                at=datetime.fromtimestamp(at / 1000, UTC),
            )
        )
    return FundingPage(payments=payments, rows=len(rows), last_time=last)


def transfer_refusal(raw: Any) -> str | None:
    """The text of `{"status": "err", "response": <text>}`; None for any other answer."""
    if isinstance(raw, Mapping) and raw.get("status") == "err":
        text = raw.get("response")
        return text if isinstance(text, str) else repr(text)
    return None


def transfer_accepted(decoder: Decoder, raw: Any) -> None:
    """`{"status": "ok", "response": {"type": "default"}}`, the one success answer; anything
    else is refused (the caller turns that into an unknown outcome: it was sent)."""
    answer = decoder.mapping(raw)
    status = decoder.field(answer, "status")
    if status != "ok":
        raise decoder.refuse(f"status is {status!r}, not ok")
    response = decoder.mapping(decoder.field(answer, "response"), "response")
    if response.get("type") != "default":
        raise decoder.refuse(f"response.type is {response.get('type')!r}, not default")
