"""OKX: spot and swaps share the trading account (ccxt's `trading`, OKX's 18), judged by its
`mgnRatio`; fresh collateral comes from the funding account (6) and excess goes back to it.

Our transfer id goes as `clientId`, 1-32 letters and digits (a UUID with dashes is refused).

The account's mode is read at connect time (`account_mode.py`): an account in Spot mode cannot
hold the short, and its hedges are refused in one line.

Transfers (funding 6 <-> trading 18) are settled by their transfer state, and their history is
the funding account's bills, each settled the same way (`transfers.py`): only a transfer whose
state is success confirms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from bot.errors import ErrorKind, VenueError
from bot.model import AccountMargin, VenueTransfer
from bot.money import plain
from bot.venues.base import ClientIdSupport, TransferReceipt, VenueTraits
from bot.venues.decode import Decoder, Untrusted
from bot.venues.errors import error_code
from bot.venues.generic import MAX_HISTORY_PAGES, unknown_reply
from bot.venues.okx import account_margin, account_mode, transfers
from bot.venues.unified import AccountMode, UnifiedMarginVenue


class RepeatedClientId(VenueError):
    """OKX refused our clientId as one it holds already: the first send was applied."""


class OkxVenue(UnifiedMarginVenue):
    exchange_ids = ("okx",)
    traits = VenueTraits(client_ids=ClientIdSupport(param="clientId"), unified_account="trading")
    account_figure = account_margin.FIGURE
    reads_pool_transferable = True  # maxWd: see read_transferable

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_level: str | None = None  # acctLv, read at connect

    async def read_account_mode(self) -> AccountMode:
        answer = await self.call(self.client.private_get_account_config)
        level = account_mode.account_level(Decoder(self.name, account_mode.ENDPOINT), answer)
        self._account_level = level
        return AccountMode(
            f"{account_mode.NAMES[level]} (acctLv {level})", account_mode.refusal(level)
        )

    def account_margin(self, info: Any) -> AccountMargin | None:
        """The account's `mgnRatio`; in single-currency margin, the one settle currency's
        (hedges settling in two currencies there have no one figure: None)."""
        decoder = Decoder(self.name, account_margin.ENDPOINT)
        if self._account_level != account_mode.SINGLE_CURRENCY:
            return account_margin.account_margin(decoder, info)
        settles = {market.settle for market in self.perp_markets.values()}
        if len(settles) != 1:
            return None
        return account_margin.currency_margin(decoder, info, settles.pop())

    # transfers ------------------------------------------------------------------------------

    def account_id(self, account: str) -> str:
        """OKX's account id for a ccxt account name (funding -> 6, trading -> 18)."""
        ids = self.client.options.get("accountsByType") or {}
        found = ids.get(self.normalize_account(account))
        if not isinstance(found, str):
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"no OKX account for {account!r} (accounts: {', '.join(sorted(ids))})",
            )
        return found

    async def read_transferable(self, account: str, asset: str) -> Decimal:
        """What OKX says may leave the account now: the trading account's `maxWd` ("Get
        maximum withdrawals", which counts the other collateral of a multi-currency account;
        ccxt's `free` is the currency's own `availBal`), the funding account's `availBal`."""
        if self.account_id(account) != transfers.TRADING:
            return await super().read_transferable(account, asset)
        ccy = self.client.currency(asset)["id"]
        raw = await self.call(self.client.private_get_account_max_withdrawal, {"ccy": ccy})
        decoder = Decoder(self.name, f"GET {transfers.MAX_WITHDRAWAL_PATH}")
        return transfers.decode_max_withdrawal(decoder, raw, ccy)

    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """POST asset/transfer with our `clientId`, then its transfer state: only success
        confirms; a state that cannot be read leaves the outcome unknown."""
        request = {
            "ccy": self.client.currency(asset)["id"],
            "amt": plain(amount),
            "from": self.account_id(from_account),
            "to": self.account_id(to_account),
            "type": "0",
            "clientId": client_id,
        }

        async def post() -> Any:
            try:
                return await self.client.private_post_asset_transfer(request)
            except ccxt_async.ExchangeError as exc:
                if error_code(exc) not in transfers.REPEATED_CLIENT_ID:
                    raise
                raise RepeatedClientId(
                    ErrorKind.UNKNOWN, self.name, f"clientId {client_id} exists"
                ) from None

        try:
            raw = await self.send(transfers.TRANSFER_PATH, post)
        except RepeatedClientId:
            ask = {"clientId": client_id}
        else:
            decoder = Decoder(self.name, f"POST {transfers.TRANSFER_PATH}")
            try:
                ask = {"transId": transfers.decode_trans_id(decoder, raw, client_id)}
            except Untrusted as exc:
                raise unknown_reply(exc) from None
        try:
            state = await self.transfer_state(ask)
        except VenueError as exc:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"transfer {client_id} was sent, and its state cannot be read: {exc}",
                hint="reconciling before anything else",
            ) from None
        sent = (request["ccy"], Decimal(request["amt"]), request["from"], request["to"])
        if (state.ccy, state.amount, state.source, state.target) != sent or (
            state.client_id not in ("", client_id)
        ):
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"transfer state of {ask} is {state}, not the transfer sent",
                hint="reconciling before anything else",
            )
        if state.state == transfers.PENDING:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"transfer {state.trans_id} is pending",
                hint="reconciling until its state is success",
            )
        if state.state == transfers.FAILED:
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"transfer {state.trans_id} failed: nothing moved",
                hint="see why in OKX's transfer records, then bot venue resume",
            )
        return TransferReceipt(
            exchange_id=state.trans_id, status="ok", raw={"transId": state.trans_id}
        )

    async def transfer_state(self, ask: dict[str, str]) -> transfers.TransferState:
        """GET asset/transfer-state by `transId` or `clientId`, decoded strictly."""
        raw = await self.call(self.client.private_get_asset_transfer_state, ask)
        return transfers.decode_state(Decoder(self.name, f"GET {transfers.STATE_PATH}"), raw)

    async def transfer_by_client_id(self, client_id: str, asset: str) -> VenueTransfer | None:
        """The transfer's state by our clientId: it settles a sweep OKX has not booked yet
        (the funding account's bill appears only when the transfer completes). None where
        OKX knows no transfer of that id (then the bills decide)."""
        try:
            state = await self.transfer_state({"clientId": client_id})
        except VenueError as exc:
            if exc.code in transfers.UNKNOWN_TRANSFER:
                return None
            raise
        if state.ccy != self.client.currency(asset)["id"]:
            raise Untrusted(
                self.name,
                f"GET {transfers.STATE_PATH}",
                f"clientId {client_id}: a transfer of {state.ccy}, not of {asset}",
            )
        accounts = {transfers.FUNDING: "funding", transfers.TRADING: self.unified_account}
        return VenueTransfer(
            exchange_id=state.trans_id,
            client_id=state.client_id,
            asset=asset,
            amount=state.amount,
            from_account=accounts.get(state.source, state.source),
            to_account=accounts.get(state.target, state.target),
            at=None,
            status=state.state,
        )

    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: datetime
    ) -> list[VenueTransfer]:
        """The funding account's bills of transfers in this direction since `since`, every
        page, each with our clientId settled by its transfer state (its id is the transId, as
        the transfer's answer gave it; a failed one moved nothing and is left out). A bill
        without a clientId was not sent by the bot: its client id is "" (recorded: none), so
        it is never matched to an intent by its amount."""
        source, target = self.account_id(from_account), self.account_id(to_account)
        bill_type = transfers.BILL_TYPES.get((source, target))
        if bill_type is None:
            return []
        ccy = self.client.currency(asset)["id"]
        since_ms = int(since.timestamp() * 1000)
        decoder = Decoder(self.name, f"GET {transfers.BILLS_PATH}")
        bills: dict[str, transfers.Bill] = {}
        after: int | None = None
        for _ in range(MAX_HISTORY_PAGES):
            request = {"ccy": ccy, "type": bill_type, "limit": str(transfers.BILLS_PAGE)}
            if after is not None:
                request["after"] = str(after)
            page = transfers.decode_bills(
                decoder, await self.call(self.client.private_get_asset_bills, request)
            )
            new = [bill for bill in page if bill.bill_id not in bills]
            for bill in page:
                outgoing = source == transfers.FUNDING
                if bill.ccy != ccy or (bill.change < 0) != outgoing or bill.change == 0:
                    raise decoder.refuse(
                        f"bill {bill.bill_id} ({bill.change} {bill.ccy}) is not a {ccy} bill of "
                        f"type {bill_type}"
                    )
            bills.update((bill.bill_id, bill) for bill in new)
            if len(page) < transfers.BILLS_PAGE or min(b.ts for b in page) < since_ms:
                break
            if not new:
                raise decoder.refuse("a full page repeats earlier pages: the venue ignores paging")
            after = min(b.ts for b in page) + 1  # the oldest ms again: none of it is skipped
        else:
            raise decoder.refuse(
                f"more than {MAX_HISTORY_PAGES} pages of bills since {since.isoformat()}; "
                "stopped rather than risk the venue's rate limit"
            )
        found = []
        for bill in sorted(bills.values(), key=lambda b: (b.ts, b.bill_id)):
            if bill.ts < since_ms:
                continue
            entry = await self._bill_transfer(bill, asset, from_account, to_account, source, target)
            if entry is not None:
                found.append(entry)
        return found

    async def _bill_transfer(
        self,
        bill: transfers.Bill,
        asset: str,
        from_account: str,
        to_account: str,
        source: str,
        target: str,
    ) -> VenueTransfer | None:
        at = datetime.fromtimestamp(bill.ts / 1000, UTC)
        if not bill.client_id:
            return VenueTransfer(
                exchange_id=f"bill-{bill.bill_id}",
                client_id="",
                asset=asset,
                amount=abs(bill.change),
                from_account=from_account,
                to_account=to_account,
                at=at,
            )
        state = await self.transfer_state({"clientId": bill.client_id})
        if (state.ccy, state.amount, state.source, state.target) != (
            bill.ccy,
            abs(bill.change),
            source,
            target,
        ):
            raise Untrusted(
                self.name,
                f"GET {transfers.STATE_PATH}",
                f"clientId {bill.client_id}: the state ({state}) does not match its bill "
                f"{bill.bill_id} ({bill.change} {bill.ccy})",
            )
        if state.state == transfers.FAILED:
            return None
        return VenueTransfer(
            exchange_id=state.trans_id,
            client_id=bill.client_id,
            asset=asset,
            amount=state.amount,
            from_account=from_account,
            to_account=to_account,
            at=at,
            status=state.state,
        )
