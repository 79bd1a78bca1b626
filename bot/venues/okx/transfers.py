"""OKX's transfers between the funding account (6) and the trading account (18), read from
OKX's own answers rather than ccxt's unified ones.

"Funds transfer" (`POST /api/v5/asset/transfer`) answers with a `transId` once the request is
accepted; whether the money moved is the transfer's `state` (success, pending, failed) in "Get
funds transfer state" (`GET /api/v5/asset/transfer-state`, by `transId` or by our `clientId`).
ccxt's `fetch_transfers` lists the trading account's bills, which carry neither our clientId
nor the transId, and reads a garbage answer as no transfers at all; the funding account's bills
("Asset bills details", `GET /api/v5/asset/bills`, newest first, paged by `ts`) carry the
clientId, and each one found is settled by its transfer state. Every answer is decoded here,
strictly: "I could not read it" is never "it did not happen".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bot.venues.decode import Decoder, Sign

TRANSFER_PATH: Final = "/api/v5/asset/transfer"
STATE_PATH: Final = "/api/v5/asset/transfer-state"
BILLS_PATH: Final = "/api/v5/asset/bills"
MAX_WITHDRAWAL_PATH: Final = "/api/v5/account/max-withdrawal"
BILLS_PAGE: Final = 100
FUNDING, TRADING = "6", "18"
#: funding-account bill types: 130 "Transferred from Trading account", 131 "Transferred to
#: Trading account"
BILL_TYPES: Final = {(TRADING, FUNDING): "130", (FUNDING, TRADING): "131"}
SUCCESS, PENDING, FAILED = "success", "pending", "failed"
STATES: Final = frozenset({SUCCESS, PENDING, FAILED})
#: what the loopback fake answers a repeated clientId with ("{param} already exists"); OKX's
#: pages do not say which code a repeated clientId gets: this set is where to add it
REPEATED_CLIENT_ID: Final = frozenset({"50071"})
#: "Get funds transfer state" for an id OKX knows no transfer of (58129, "{param} is
#: incorrect"; as the fake answers it: the code is not in OKX's documentation)
UNKNOWN_TRANSFER: Final = frozenset({"58129"})


@dataclass(frozen=True)
class TransferState:
    """One transfer as "Get funds transfer state" tells it."""

    trans_id: str
    client_id: str
    ccy: str
    amount: Decimal
    source: str
    target: str
    state: str


@dataclass(frozen=True)
class Bill:
    """One funding-account bill of a transfer."""

    bill_id: str
    client_id: str
    ccy: str
    change: Decimal
    ts: int


def rows_of(decoder: Decoder, raw: Any) -> list[Any]:
    """`data` of a successful envelope (`code` "0"); anything else is refused."""
    answer = decoder.mapping(raw)
    code = decoder.field(answer, "code")
    if code != "0":
        raise decoder.refuse(f'code is {code!r}, not "0"')
    return decoder.sequence(decoder.field(answer, "data"), "data")


def decode_trans_id(decoder: Decoder, raw: Any, client_id: str) -> str:
    """The `transId` of "Funds transfer"'s answer, which must echo the clientId sent."""
    rows = rows_of(decoder, raw)
    if len(rows) != 1:
        raise decoder.refuse(f"data holds {len(rows)} entries, not the one transfer")
    echoed = rows[0].get("clientId") if isinstance(rows[0], Mapping) else None
    if echoed not in (None, "", client_id):
        raise decoder.refuse(f"data[0].clientId is {echoed!r}, not the {client_id!r} sent")
    trans_id = decoder.text(rows[0], "transId", "data[0]")
    if not trans_id.isdigit():
        raise decoder.refuse(f"data[0].transId is {trans_id!r}, not a transfer id")
    return trans_id


def decode_state(decoder: Decoder, raw: Any) -> TransferState:
    """The one transfer of a "Get funds transfer state" answer."""
    rows = rows_of(decoder, raw)
    if len(rows) != 1:
        raise decoder.refuse(f"data holds {len(rows)} entries, not the one transfer")
    row, path = rows[0], "data[0]"
    state = decoder.text(row, "state", path)
    if state not in STATES:
        raise decoder.refuse(f"{path}.state is {state!r}, not one of {sorted(STATES)}")
    client_id = decoder.field(row, "clientId", path)
    if not isinstance(client_id, str):
        raise decoder.refuse(f"{path}.clientId is {client_id!r}, not a client id")
    return TransferState(
        trans_id=decoder.text(row, "transId", path),
        client_id=client_id,
        ccy=decoder.text(row, "ccy", path),
        amount=decoder.decimal(row, "amt", path, sign=Sign.POSITIVE),
        source=decoder.text(row, "from", path),
        target=decoder.text(row, "to", path),
        state=state,
    )


def decode_bills(decoder: Decoder, raw: Any) -> list[Bill]:
    """A page of funding-account bills."""
    rows = rows_of(decoder, raw)
    if len(rows) > BILLS_PAGE:
        raise decoder.refuse(f"data holds {len(rows)} bills, more than the {BILLS_PAGE} asked")
    bills = []
    for index, row in enumerate(rows):
        path = f"data[{index}]"
        ts = decoder.field(row, "ts", path)
        if not (isinstance(ts, str) and ts.isdigit() and 0 < int(ts) < 10**14):
            raise decoder.refuse(f"{path}.ts is {ts!r}, not a time in ms")
        client_id = row.get("clientId", "") if isinstance(row, Mapping) else ""
        if not isinstance(client_id, str):
            raise decoder.refuse(f"{path}.clientId is {client_id!r}, not a client id")
        bills.append(
            Bill(
                bill_id=decoder.text(row, "billId", path),
                client_id=client_id,
                ccy=decoder.text(row, "ccy", path),
                change=decoder.decimal(row, "balChg", path),
                ts=int(ts),
            )
        )
    return bills


def decode_max_withdrawal(decoder: Decoder, raw: Any, ccy: str) -> Decimal:
    """`maxWd` of the one row for `ccy` in "Get maximum withdrawals"'s answer."""
    rows = rows_of(decoder, raw)
    found = [r for r in rows if isinstance(r, Mapping) and r.get("ccy") == ccy]
    if len(found) != 1:
        raise decoder.refuse(f"data lists {ccy} {len(found)} times, not once")
    return decoder.decimal(found[0], "maxWd", f"data {ccy}", sign=Sign.NON_NEGATIVE)
