"""Universal transfer between the spot, USD-M, COIN-M, funding and cross-margin wallets, and its
history: Binance's rules as pure functions.

`apply_transfer` validates a request against the state and returns the next state plus the
history record; it raises `BinanceError` with Binance's code when the exchange would refuse.

Sources (Binance Wallet API docs):
- User Universal Transfer, POST /sapi/v1/asset/transfer, Request Weight(UID) 900:
  https://developers.binance.com/docs/wallet/asset/user-universal-transfer ("ENUM of transfer
  types").
- Query User Universal Transfer History, GET /sapi/v1/asset/transfer, Request Weight(IP) 1:
  https://developers.binance.com/docs/wallet/asset/query-user-universal-transfer ("current:
  Default 1", "size: Default 10, Max 100", "Support query within the last 6 months only", "If
  startTime and endTime not sent, return records of the last 7 days by default").
- Error codes: https://developers.binance.com/docs/binance-spot-api-docs/errors (the codes the
  API and SAPI answer with).
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

# Every type in the documented "ENUM of transfer types", in the documented order.
DOCUMENTED_TYPES: tuple[str, ...] = (
    "MAIN_UMFUTURE",
    "MAIN_CMFUTURE",
    "MAIN_MARGIN",
    "UMFUTURE_MAIN",
    "UMFUTURE_MARGIN",
    "CMFUTURE_MAIN",
    "CMFUTURE_MARGIN",
    "MARGIN_MAIN",
    "MARGIN_UMFUTURE",
    "MARGIN_CMFUTURE",
    "ISOLATEDMARGIN_MARGIN",
    "MARGIN_ISOLATEDMARGIN",
    "ISOLATEDMARGIN_ISOLATEDMARGIN",
    "MAIN_FUNDING",
    "FUNDING_MAIN",
    "FUNDING_UMFUTURE",
    "UMFUTURE_FUNDING",
    "MARGIN_FUNDING",
    "FUNDING_MARGIN",
    "FUNDING_CMFUTURE",
    "CMFUTURE_FUNDING",
    "MAIN_OPTION",
    "OPTION_MAIN",
    "UMFUTURE_OPTION",
    "OPTION_UMFUTURE",
    "MARGIN_OPTION",
    "OPTION_MARGIN",
    "FUNDING_OPTION",
    "OPTION_FUNDING",
    "MAIN_PORTFOLIO_MARGIN",
    "PORTFOLIO_MARGIN_MAIN",
)
# The documented types between the wallets the paper models. Binance documents no transfer
# between USD-M and COIN-M (UMFUTURE_CMFUTURE is not in the ENUM), so neither does the paper.
TRANSFER_TYPES: Mapping[str, tuple[Wallet, Wallet]] = {
    "MAIN_UMFUTURE": (Wallet.SPOT, Wallet.USDM),
    "MAIN_CMFUTURE": (Wallet.SPOT, Wallet.COINM),
    "MAIN_MARGIN": (Wallet.SPOT, Wallet.MARGIN),
    "UMFUTURE_MAIN": (Wallet.USDM, Wallet.SPOT),
    "UMFUTURE_MARGIN": (Wallet.USDM, Wallet.MARGIN),
    "CMFUTURE_MAIN": (Wallet.COINM, Wallet.SPOT),
    "CMFUTURE_MARGIN": (Wallet.COINM, Wallet.MARGIN),
    "MARGIN_MAIN": (Wallet.MARGIN, Wallet.SPOT),
    "MARGIN_UMFUTURE": (Wallet.MARGIN, Wallet.USDM),
    "MARGIN_CMFUTURE": (Wallet.MARGIN, Wallet.COINM),
    "MAIN_FUNDING": (Wallet.SPOT, Wallet.FUNDING),
    "FUNDING_MAIN": (Wallet.FUNDING, Wallet.SPOT),
    "FUNDING_UMFUTURE": (Wallet.FUNDING, Wallet.USDM),
    "UMFUTURE_FUNDING": (Wallet.USDM, Wallet.FUNDING),
    "MARGIN_FUNDING": (Wallet.MARGIN, Wallet.FUNDING),
    "FUNDING_MARGIN": (Wallet.FUNDING, Wallet.MARGIN),
    "FUNDING_CMFUTURE": (Wallet.FUNDING, Wallet.COINM),
    "CMFUTURE_FUNDING": (Wallet.COINM, Wallet.FUNDING),
}
assert set(TRANSFER_TYPES) <= set(DOCUMENTED_TYPES)
MAX_DECIMALS = 8
DEFAULT_PAGE_SIZE = 10  # documented: "size: Default 10, Max 100"
MAX_PAGE_SIZE = 100
DEFAULT_WINDOW_MS = 7 * 24 * 3_600_000  # documented: neither time sent: "the last 7 days"
# Documented: "Support query within the last 6 months only". The docs give no exact boundary;
# 180 days is the shortest six months, so the paper never lists what Binance would not.
HISTORY_RETENTION_MS = 180 * 24 * 3_600_000
_AMOUNT_PATTERN = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")

INSUFFICIENT_BALANCE = BinanceError(400, -5013, "Asset transfer failed: insufficient balance")
PRECISION_OVER_MAXIMUM = BinanceError(
    400, -1111, "Precision is over the maximum defined for this asset."
)
# -1020 UNSUPPORTED_OPERATION: a documented type between wallets the paper does not model
# (isolated margin, options, portfolio margin). Binance would carry it out; the paper cannot.
UNSUPPORTED_TYPE = BinanceError(400, -1020, "This operation is not supported.")
# -1128 OPTIONAL_PARAMS_BAD_COMBO: startTime after endTime. The history page documents no code
# for it; this is the error list's code for optional parameters that do not go together.
START_AFTER_END = BinanceError(400, -1128, "Combination of optional parameters invalid.")


def invalid_parameter(name: str) -> BinanceError:
    """-1130 INVALID_PARAMETER: a well-formed value outside the documented range."""
    return BinanceError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def unknown_type() -> BinanceError:
    """A `type` outside the documented ENUM. Binance answers an enum value it cannot read as
    it answers a missing one: -1102 "Mandatory parameter 'type' was not sent, was empty/null,
    or malformed." (the answer python-binance#771 shows from a sapi transfer endpoint)."""
    return mandatory_missing("type")


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


def parse_documented_type(raw: str | None) -> str:
    """`type`, mandatory, one of the documented ENUM (-1102 otherwise, see `unknown_type`)."""
    if raw is None or raw == "":
        raise mandatory_missing("type")
    if raw not in DOCUMENTED_TYPES:
        raise unknown_type()
    return raw


def parse_transfer_type(raw: str | None) -> tuple[Wallet, Wallet]:
    """The source and target wallet of a documented type; -1020 for one the paper does not
    model (its wallets do not exist here)."""
    wallets = TRANSFER_TYPES.get(parse_documented_type(raw))
    if wallets is None:
        raise UNSUPPORTED_TYPE
    return wallets


def known_assets(state: PaperState) -> frozenset[str]:
    assets: set[str] = set(state.spot) | set(state.usdm) | set(state.coinm)
    assets |= set(state.funding_wallet) | set(state.margin_wallet)
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
    """What may leave `wallet`: the free balance of spot, funding or cross margin (the paper
    lends nothing, so all of margin's free balance may leave), or a futures wallet's
    maxWithdrawAmount."""
    if wallet in PLAIN_WALLETS:
        balance = state.plain_balances(wallet).get(asset)
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


PLAIN_WALLETS = frozenset({Wallet.SPOT, Wallet.FUNDING, Wallet.MARGIN})


def _adjust(state: PaperState, wallet: Wallet, asset: str, delta: Decimal, now: int) -> PaperState:
    if wallet in PLAIN_WALLETS:
        balances = state.plain_balances(wallet)
        current = balances.get(asset, SpotBalance(free=Decimal(0)))
        updated_plain = {**balances, asset: replace(current, free=current.free + delta)}
        if wallet == Wallet.FUNDING:
            return replace(state, funding_wallet=updated_plain)
        if wallet == Wallet.MARGIN:
            return replace(state, margin_wallet=updated_plain)
        return replace(state, spot=updated_plain, spot_update_time=now)
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
    """GET /sapi/v1/asset/transfer: the documented rules, then filter by type and time window,
    newest first, paged with `current` (1-based) and `size`.

    - `type` is mandatory and one of the documented ENUM (any of them may be asked for; a type
      the paper does not model simply has no rows).
    - `current`: default 1, at least 1 (0 is refused, -1130). `size`: default 10, at most 100.
      The docs say "Max 100" and do not say a larger size is cut down to 100, so 0 or 500 is
      refused (-1130), never silently capped.
    - Neither startTime nor endTime: the last 7 days (documented). Only one of them: the docs
      say nothing; the paper reads startTime alone as startTime to now, and endTime alone as the
      7 days before it. startTime after endTime is refused (-1128).
    - Only the last 6 months can be queried (documented): older records are never listed and
      not counted in `total`, whatever startTime asks for.
    """
    transfer_type = parse_documented_type(params.get("type"))
    start = _optional_int(params, "startTime")
    end = _optional_int(params, "endTime")
    current = _optional_int(params, "current")
    size = _optional_int(params, "size")
    if current is None:
        current = 1
    elif current < 1:
        raise invalid_parameter("current")
    if size is None:
        size = DEFAULT_PAGE_SIZE
    elif not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid_parameter("size")
    if start is None and end is None:
        start, end = now - DEFAULT_WINDOW_MS, now
    elif start is None:
        assert end is not None
        start = end - DEFAULT_WINDOW_MS
    elif end is None:
        end = now
    if start > end:
        raise START_AFTER_END
    start = max(start, now - HISTORY_RETENTION_MS)
    matching = [
        record
        for record in state.transfers
        if record.type == transfer_type and start <= record.timestamp <= end
    ]
    matching.sort(key=lambda record: (record.timestamp, record.tran_id), reverse=True)
    first = (current - 1) * size
    return len(matching), matching[first : first + size]
