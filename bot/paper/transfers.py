"""Universal transfer between spot, USD-M and COIN-M wallets: Binance's rules as pure functions.

`apply_transfer` validates a request against the state and returns the next state plus the
history record; it raises `BinanceError` with Binance's code when the exchange would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from bot.paper.accounting import account_figures
from bot.paper.model import (
    FuturesBalance,
    MarketKind,
    PaperState,
    SpotBalance,
    TransferRecord,
    Wallet,
)
from bot.paper.wire import BinanceError, illegal_characters, mandatory_missing

TRANSFER_TYPES: Mapping[str, tuple[Wallet, Wallet]] = {
    "MAIN_UMFUTURE": (Wallet.SPOT, Wallet.USDM),
    "UMFUTURE_MAIN": (Wallet.USDM, Wallet.SPOT),
    "MAIN_CMFUTURE": (Wallet.SPOT, Wallet.COINM),
    "CMFUTURE_MAIN": (Wallet.COINM, Wallet.SPOT),
    "UMFUTURE_CMFUTURE": (Wallet.USDM, Wallet.COINM),
    "CMFUTURE_UMFUTURE": (Wallet.COINM, Wallet.USDM),
}
MAX_DECIMALS = 8
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
DEFAULT_WINDOW_MS = 7 * 24 * 3_600_000  # Binance returns the last 7 days when no time is given
_AMOUNT_PATTERN = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")

INSUFFICIENT_BALANCE = BinanceError(400, -5013, "Asset transfer failed: insufficient balance")
PRECISION_OVER_MAXIMUM = BinanceError(
    400, -1111, "Precision is over the maximum defined for this asset."
)


def parse_amount(raw: str | None) -> Decimal:
    """A positive decimal with at most 8 places (trailing zeros do not count)."""
    if raw is None or raw == "":
        raise mandatory_missing("amount")
    if not _AMOUNT_PATTERN.match(raw):
        raise illegal_characters("amount", "^([0-9]{1,20})(\\.[0-9]{1,20})?$")
    try:
        amount = Decimal(raw)
    except InvalidOperation as error:  # pragma: no cover - the pattern already excludes this
        raise illegal_characters("amount", "^([0-9]{1,20})(\\.[0-9]{1,20})?$") from error
    if amount <= 0:
        raise BinanceError(
            400,
            -1100,
            "Illegal characters found in parameter 'amount'; legal range is 'greater than 0'.",
        )
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMALS:
        raise PRECISION_OVER_MAXIMUM
    return amount


def parse_transfer_type(raw: str | None) -> tuple[Wallet, Wallet]:
    if raw is None or raw == "":
        raise mandatory_missing("type")
    wallets = TRANSFER_TYPES.get(raw)
    if wallets is None:
        raise illegal_characters("type", ", ".join(TRANSFER_TYPES))
    return wallets


def known_assets(state: PaperState) -> frozenset[str]:
    assets: set[str] = set(state.spot) | set(state.usdm) | set(state.coinm)
    for market in state.markets:
        assets.add(market.base)
        if market.kind != MarketKind.INVERSE:
            assets.add(market.quote)
    return frozenset(assets)


def coinm_assets(state: PaperState) -> frozenset[str]:
    return frozenset(
        market.margin_asset
        for market in state.markets_of(MarketKind.INVERSE)
        if market.margin_asset is not None
    )


def transferable(state: PaperState, wallet: Wallet, asset: str) -> Decimal:
    """What may leave `wallet`: spot free balance, or a futures wallet's maxWithdrawAmount."""
    if wallet == Wallet.SPOT:
        balance = state.spot.get(asset)
        return balance.free if balance is not None else Decimal(0)
    kind = MarketKind.LINEAR if wallet == Wallet.USDM else MarketKind.INVERSE
    figures = account_figures(state, kind).wallets.get(asset)
    return figures.max_withdraw_amount if figures is not None else Decimal(0)


def apply_transfer(
    state: PaperState,
    *,
    asset: str | None,
    amount: str | None,
    transfer_type: str | None,
    now: int,
) -> tuple[PaperState, TransferRecord]:
    """Validate like Binance (mandatory parameters, precision, type, balance), then move."""
    if asset is None or asset == "":
        raise mandatory_missing("asset")
    source, target = parse_transfer_type(transfer_type)
    value = parse_amount(amount)
    if asset not in known_assets(state):
        raise illegal_characters("asset", ", ".join(sorted(known_assets(state))))
    if Wallet.COINM in (source, target) and asset not in coinm_assets(state):
        raise BinanceError(400, -5011, f"{asset} is not a margin asset of COIN-M futures.")
    if transferable(state, source, asset) < value:
        raise INSUFFICIENT_BALANCE
    moved = _credit(_debit(state, source, asset, value, now), target, asset, value, now)
    assert transfer_type is not None
    record = TransferRecord(
        tran_id=state.next_tran_id, timestamp=now, asset=asset, amount=value, type=transfer_type
    )
    return (
        replace(moved, transfers=(*state.transfers, record), next_tran_id=state.next_tran_id + 1),
        record,
    )


def apply_outside_transfer(
    state: PaperState, *, asset: str, amount: Decimal, transfer_type: str, now: int, at: int
) -> tuple[PaperState, TransferRecord]:
    """A transfer the account's owner made by hand (on the website, not through our client):
    validated and applied like `apply_transfer` (balances move at `now`), with a new tranId and
    the history time `at`, which may lie in the past. The history stays in time order (then by
    tranId), as `query_transfers` and Binance list it."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, got {type(amount).__name__}")
    moved, record = apply_transfer(
        state, asset=asset, amount=f"{amount:f}", transfer_type=transfer_type, now=now
    )
    record = replace(record, timestamp=at)
    earlier = [t for t in state.transfers if (t.timestamp, t.tran_id) <= (at, record.tran_id)]
    later = [t for t in state.transfers if (t.timestamp, t.tran_id) > (at, record.tran_id)]
    return replace(moved, transfers=(*earlier, record, *later)), record


def _debit(state: PaperState, wallet: Wallet, asset: str, value: Decimal, now: int) -> PaperState:
    return _adjust(state, wallet, asset, -value, now)


def _credit(state: PaperState, wallet: Wallet, asset: str, value: Decimal, now: int) -> PaperState:
    return _adjust(state, wallet, asset, value, now)


def _adjust(state: PaperState, wallet: Wallet, asset: str, delta: Decimal, now: int) -> PaperState:
    if wallet == Wallet.SPOT:
        current = state.spot.get(asset, SpotBalance(free=Decimal(0)))
        spot = {**state.spot, asset: replace(current, free=current.free + delta)}
        return replace(state, spot=spot, spot_update_time=now)
    balances = state.futures_balances(wallet)
    current_futures = balances.get(
        asset, FuturesBalance(wallet_balance=Decimal(0), update_time=now)
    )
    updated = {
        **balances,
        asset: FuturesBalance(
            wallet_balance=current_futures.wallet_balance + delta, update_time=now
        ),
    }
    if wallet == Wallet.USDM:
        return replace(state, usdm=updated)
    return replace(state, coinm=updated)


def _optional_int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as error:
        raise illegal_characters(name, "^[0-9]{1,20}$") from error


def query_transfers(
    state: PaperState, params: Mapping[str, str], *, now: int
) -> tuple[int, list[TransferRecord]]:
    """GET /sapi/v1/asset/transfer: filter by type and time window, newest first, paged with
    `current` (1-based) and `size` (default 10, at most 100)."""
    transfer_type = params.get("type")
    parse_transfer_type(transfer_type)
    start = _optional_int(params, "startTime")
    end = _optional_int(params, "endTime")
    if start is None and end is None:
        start, end = now - DEFAULT_WINDOW_MS, now
    elif start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW_MS
    elif end is None:
        end = now
    current = _optional_int(params, "current") or 1
    size = _optional_int(params, "size") or DEFAULT_PAGE_SIZE
    if current < 1:
        raise illegal_characters("current", "1 or more")
    size = min(max(size, 1), MAX_PAGE_SIZE)
    matching = [
        record
        for record in state.transfers
        if record.type == transfer_type and start <= record.timestamp <= end
    ]
    matching.sort(key=lambda record: (record.timestamp, record.tran_id), reverse=True)
    first = (current - 1) * size
    return len(matching), matching[first : first + size]
