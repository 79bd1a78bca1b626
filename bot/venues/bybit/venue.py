"""Bybit's Unified Trading Account: spot and perpetuals share one collateral pool (ccxt's
account `unified`), judged by its `accountMMRate`; fresh collateral comes from the FUND wallet
(ccxt's `funding`) and excess goes back to it.

Our transfer id goes as `transferId`, a UUID with hyphens: ccxt makes a fresh one per call
unless given one, which would turn a re-send into a second transfer; Bybit refuses a repeated
id (retCode 131214 "TransferId exist") and the first one stands.

The account's mode is read at connect time (`account_mode.py`): a classic account, or inverse
hedges on UTA 1.0, are refused in one line instead of being read as one shared pool.

Transfers (FUND <-> UNIFIED) and their history are Bybit's own answers decoded strictly
(`transfers.py`): only a transfer Bybit says is SUCCESS confirms, PENDING is unknown until the
records say it is done, and a refused repeat of our transferId (131214) sends us to the records
for the first one, which stands.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from bot.errors import ErrorKind, VenueError
from bot.model import AccountMargin, MarketKind, VenueTransfer, Wallet
from bot.money import plain
from bot.venues.base import ClientIdSupport, TransferReceipt, VenueTraits
from bot.venues.bybit import account_margin, account_mode, transfers
from bot.venues.bybit.unified_wallets import unified_wallets
from bot.venues.decode import Decoder, Untrusted
from bot.venues.generic import MAX_HISTORY_PAGES, unknown_reply
from bot.venues.unified import AccountMode, UnifiedMarginVenue

#: how far past our clock the last history window reaches (the venue's clock may run ahead)
CLOCK_SLACK_MS = 60_000


class RepeatedTransferId(VenueError):
    """Bybit refused our transferId as one it holds already: the first send was applied."""


class BybitVenue(UnifiedMarginVenue):
    exchange_ids = ("bybit",)
    traits = VenueTraits(
        client_ids=ClientIdSupport(param="transferId", uuid_format=True, dedupes=True),
        unified_account="unified",
    )
    account_figure = account_margin.FIGURE
    reserve_label = "FUND"
    reads_pool_transferable = True  # transferBalance: see read_transferable

    async def read_account_mode(self) -> AccountMode:
        answer = await self.call(self.client.private_get_v5_account_info)
        status = account_mode.unified_margin_status(
            Decoder(self.name, account_mode.ENDPOINT), answer
        )
        inverse = [
            symbol
            for symbol, market in self.perp_markets.items()
            if market.kind is MarketKind.INVERSE
        ]
        return AccountMode(
            f"{account_mode.NAMES[status]} (unifiedMarginStatus {status})",
            account_mode.refusal(status, inverse),
        )

    def account_margin(self, info: Any) -> AccountMargin | None:
        return account_margin.account_margin(Decoder(self.name, account_margin.ENDPOINT), info)

    # transfers ------------------------------------------------------------------------------

    def account_type(self, account: str) -> str:
        """Bybit's accountType for a ccxt account name (funding -> FUND, unified -> UNIFIED)."""
        types = self.client.options.get("accountsByType") or {}
        found = types.get(self.normalize_account(account))
        if not isinstance(found, str):
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"no Bybit account type for {account!r} (accounts: {', '.join(sorted(types))})",
            )
        return found

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        """The unified account's coins from Bybit's own rows (`unified_wallets`), with its
        margin figure; the other accounts as ccxt reads them."""
        if account != self.unified_account or not isinstance(balance, Mapping):
            return super().parse_wallets(account, balance)
        self._account_margin = self.account_margin(balance.get("info"))
        decoder = Decoder(self.name, f"fetch_balance {account}")
        return unified_wallets(decoder, balance.get("info"), account)

    async def read_transferable(self, account: str, asset: str) -> Decimal:
        """What Bybit says may leave the account now: `transferBalance` of "Get All Coins
        Balance" (`query-account-coins-balance`, `coin` required for UNIFIED). ccxt's `free` of
        the unified balance is the coin's wallet less its positions' initial margin, which
        ignores the other collateral the account holds (the spot leg's BTC)."""
        account_type = self.account_type(account)
        coin = self.client.currency(asset)["id"]
        raw = await self.call(
            self.client.private_get_v5_asset_transfer_query_account_coins_balance,
            {"accountType": account_type, "coin": coin},
        )
        decoder = Decoder(self.name, f"GET {transfers.COINS_BALANCE_PATH}")
        return transfers.decode_transferable(decoder, raw, account_type, coin)

    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """POST inter-transfer with our id as `transferId`; only SUCCESS confirms."""
        transfer_id = str(uuid.UUID(hex=client_id))
        request = {
            "transferId": transfer_id,
            "coin": self.client.currency(asset)["id"],
            "amount": plain(amount),
            "fromAccountType": self.account_type(from_account),
            "toAccountType": self.account_type(to_account),
        }

        async def post() -> Any:
            try:
                return await self.client.private_post_v5_asset_transfer_inter_transfer(request)
            except ccxt_async.ExchangeError as exc:
                if transfers.ret_code_of(exc) != transfers.REPEATED_ID:
                    raise
                raise RepeatedTransferId(
                    ErrorKind.UNKNOWN, self.name, f"transferId {transfer_id} exists (131214)"
                ) from None

        decoder = Decoder(self.name, f"POST {transfers.TRANSFER_PATH}")
        try:
            raw = await self.send(transfers.TRANSFER_PATH, post)
        except RepeatedTransferId:
            status = await self._status_of_sent(transfer_id, request)
        else:
            try:
                said = transfers.decode_reply(decoder, raw, transfer_id)
            except Untrusted as exc:
                raise unknown_reply(exc) from None
            status = said or await self._status_of_sent(transfer_id, request)
        return self._receipt(transfer_id, status, raw={"transferId": transfer_id})

    async def _status_of_sent(self, transfer_id: str, request: dict[str, str]) -> str:
        """The status Bybit's records give the transfer sent with our id (refused as a repeat,
        or accepted without a status), which must be this very transfer (same coin, amount,
        accounts); unknown if the records cannot tell."""
        try:
            raw = await self.call(
                self.client.private_get_v5_asset_transfer_query_inter_transfer_list,
                {"transferId": transfer_id, "coin": request["coin"]},
            )
            decoder = Decoder(self.name, f"GET {transfers.HISTORY_PATH}")
            rows, _ = transfers.decode_page(decoder, raw)
            found = [transfers.decode_row(decoder, r, f"row {i}") for i, r in enumerate(rows)]
        except VenueError as exc:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"transfer {transfer_id}: its record cannot be read: {exc}",
                hint="reconciling before anything else",
            ) from None
        same = [
            entry
            for entry, source, target in found
            if entry.exchange_id == transfer_id
            and entry.amount == Decimal(request["amount"])
            and (source, target) == (request["fromAccountType"], request["toAccountType"])
        ]
        if len(same) != 1:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"transfer {transfer_id}: the records show {len(same)} transfers of it that "
                "match what was sent",
                hint="reconciling before anything else",
            )
        assert same[0].status is not None
        return same[0].status.upper()

    def _receipt(self, transfer_id: str, status: str, raw: dict[str, Any]) -> TransferReceipt:
        if status == transfers.PENDING:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"transfer {transfer_id} is PENDING",
                hint="reconciling until Bybit's records say it is done",
            )
        if status == transfers.FAILED:
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"transfer {transfer_id} FAILED: nothing moved",
                hint="see why in Bybit's transfer records, then bot venue resume",
            )
        return TransferReceipt(exchange_id=transfer_id, status="ok", raw=raw)

    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: datetime
    ) -> list[VenueTransfer]:
        """Every record of `asset` from `from_account` to `to_account` since `since`, in windows
        of 7 days, every page; a FAILED transfer moved nothing and is left out (as absent)."""
        source, target = self.account_type(from_account), self.account_type(to_account)
        coin = self.client.currency(asset)["id"]
        decoder = Decoder(self.name, f"GET {transfers.HISTORY_PATH}")
        found: dict[str, VenueTransfer] = {}
        start = int(since.timestamp() * 1000)
        until = int(time.time() * 1000) + (self._clock_offset or 0) + CLOCK_SLACK_MS
        pages = 0
        while start <= until:
            end = start + transfers.WINDOW_MS - 1
            cursor = ""
            seen_cursors: set[str] = set()
            while True:
                pages += 1
                if pages > MAX_HISTORY_PAGES:
                    raise decoder.refuse(
                        f"more than {MAX_HISTORY_PAGES} pages of transfers since "
                        f"{since.isoformat()}; stopped rather than risk the venue's rate limit"
                    )
                request: dict[str, Any] = {
                    "coin": coin,
                    "startTime": start,
                    "endTime": end,
                    "limit": transfers.HISTORY_PAGE,
                }
                if cursor:
                    request["cursor"] = cursor
                raw = await self.call(
                    self.client.private_get_v5_asset_transfer_query_inter_transfer_list, request
                )
                rows, cursor = transfers.decode_page(decoder, raw)
                for index, row in enumerate(rows):
                    entry, kind_from, kind_to = transfers.decode_row(decoder, row, f"row {index}")
                    if entry.asset != coin:
                        raise decoder.refuse(f"row {index}.coin is {entry.asset!r}, not {coin}")
                    if (kind_from, kind_to) != (source, target) or entry.status == "failed":
                        continue
                    found.setdefault(
                        entry.exchange_id,
                        VenueTransfer(
                            exchange_id=entry.exchange_id,
                            client_id=entry.client_id,
                            asset=asset,
                            amount=entry.amount,
                            from_account=from_account,
                            to_account=to_account,
                            at=entry.at,
                            status=entry.status,
                        ),
                    )
                if not cursor:
                    break
                if cursor in seen_cursors:
                    raise decoder.refuse(f"nextPageCursor {cursor!r} repeats: paging is broken")
                seen_cursors.add(cursor)
            start = end + 1
        return sorted(found.values(), key=lambda t: (t.at or since, t.exchange_id))
