"""Bybit's internal transfers between the Funding wallet (FUND) and the Unified Trading Account
(UNIFIED), read from Bybit's own answers rather than ccxt's unified ones.

ccxt's `transfer` reports "ok" from the envelope's retCode, not from the transfer's own
`status` (SUCCESS, PENDING or FAILED: "Create Internal Transfer",
https://bybit-exchange.github.io/docs/v5/asset/transfer/create-inter-transfer), and its
`fetch_transfers` reads a garbage answer (an HTML page, an empty body, a `list` that is not a
list) as no transfers at all. Reconciliation must never take "I could not read it" for "it did
not happen", so the envelope and every row are decoded here, strictly.

"Get Internal Transfer Records" (`query-inter-transfer-list`) lists at most 50 rows a page,
newest first, paged by `nextPageCursor`, over a window of at most 7 days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bot.model import VenueTransfer
from bot.venues.decode import Decoder, Sign

TRANSFER_PATH: Final = "/v5/asset/transfer/inter-transfer"
HISTORY_PATH: Final = "/v5/asset/transfer/query-inter-transfer-list"
COINS_BALANCE_PATH: Final = "/v5/asset/transfer/query-account-coins-balance"
#: "TransferId exist": Bybit refuses a repeated transferId; the first one stands
REPEATED_ID: Final = 131214
HISTORY_PAGE: Final = 50
WINDOW_MS: Final = 7 * 24 * 3600 * 1000
SUCCESS, PENDING, FAILED = "SUCCESS", "PENDING", "FAILED"
STATUSES: Final = frozenset({SUCCESS, PENDING, FAILED})
STATUS_UNKNOWN: Final = "STATUS_UNKNOWN"

_RET_CODE = re.compile(r'"retCode"\s*:\s*"?(\d+)"?')


def ret_code_of(error: BaseException) -> int | None:
    """The retCode Bybit sent in the body ccxt put into its exception's message."""
    found = _RET_CODE.search(str(error))
    return int(found.group(1)) if found else None


def result_of(decoder: Decoder, raw: Any) -> Mapping[str, Any]:
    """The `result` of a successful envelope (`retCode` 0); anything else is refused."""
    answer = decoder.mapping(raw)
    code = decoder.field(answer, "retCode")
    if str(code) != "0" or isinstance(code, bool):
        raise decoder.refuse(f"retCode is {code!r}, not 0")
    return decoder.mapping(decoder.field(answer, "result"), "result", allow_empty=True)


def decode_reply(decoder: Decoder, raw: Any, transfer_id: str) -> str | None:
    """The transfer's `status` from "Create Internal Transfer"'s answer, which must name the
    transferId that was sent; None where it does not say (no `status`, as in ccxt's recorded
    answer, or STATUS_UNKNOWN): then the records tell."""
    result = result_of(decoder, raw)
    echoed = decoder.text(result, "transferId", "result")
    if echoed != transfer_id:
        raise decoder.refuse(f"result.transferId is {echoed!r}, not the {transfer_id!r} sent")
    status = result.get("status")
    if status in (None, "", STATUS_UNKNOWN):
        return None
    if status not in STATUSES:
        raise decoder.refuse(f"result.status is {status!r}, not one of {sorted(STATUSES)}")
    return status


def decode_row(decoder: Decoder, raw: Any, path: str) -> tuple[VenueTransfer, str, str]:
    """One history row: the transfer (accounts left for the caller to name) and its account
    types as Bybit writes them (FUND, UNIFIED)."""
    row = decoder.mapping(raw, path)
    transfer_id = decoder.text(row, "transferId", path)
    status = decoder.text(row, "status", path)
    if status not in STATUSES:
        raise decoder.refuse(f"{path}.status is {status!r}, not one of {sorted(STATUSES)}")
    stamp = decoder.field(row, "timestamp", path)
    if not (isinstance(stamp, str) and stamp.isdigit()) and not (
        isinstance(stamp, int) and not isinstance(stamp, bool)
    ):
        raise decoder.refuse(f"{path}.timestamp is {stamp!r}, not a time in ms")
    if not 0 < int(stamp) < 10**14:
        raise decoder.refuse(f"{path}.timestamp is {stamp!r}, not a time in ms")
    entry = VenueTransfer(
        exchange_id=transfer_id,
        client_id=transfer_id.replace("-", ""),
        asset=decoder.text(row, "coin", path),
        amount=decoder.decimal(row, "amount", path, sign=Sign.POSITIVE),
        from_account=None,
        to_account=None,
        at=datetime.fromtimestamp(int(stamp) / 1000, UTC),
        status=status.lower(),
    )
    return (
        entry,
        decoder.text(row, "fromAccountType", path),
        decoder.text(row, "toAccountType", path),
    )


def decode_page(decoder: Decoder, raw: Any) -> tuple[list[Any], str]:
    """A history page's rows (still raw) and its `nextPageCursor` ("" on the last page)."""
    result = result_of(decoder, raw)
    rows = decoder.sequence(decoder.field(result, "list", "result"), "result.list")
    if len(rows) > HISTORY_PAGE:
        raise decoder.refuse(f"result.list holds {len(rows)} rows, more than the {HISTORY_PAGE}")
    cursor = result.get("nextPageCursor", "")
    if not isinstance(cursor, str):
        raise decoder.refuse(f"result.nextPageCursor is {cursor!r}, not a cursor")
    return rows, cursor


def decode_transferable(decoder: Decoder, raw: Any, account_type: str, coin: str) -> Decimal:
    """`transferBalance` of the one row for `coin` in "Get All Coins Balance"'s answer."""
    result = result_of(decoder, raw)
    kind = decoder.field(result, "accountType", "result")
    if kind != account_type:
        raise decoder.refuse(f"result.accountType is {kind!r}, not the {account_type} asked for")
    rows = decoder.sequence(decoder.field(result, "balance", "result"), "result.balance")
    found = [r for r in rows if isinstance(r, Mapping) and r.get("coin") == coin]
    if len(found) != 1:
        raise decoder.refuse(f"result.balance lists {coin} {len(found)} times, not once")
    return decoder.decimal(
        found[0], "transferBalance", f"result.balance {coin}", sign=Sign.NON_NEGATIVE
    )
