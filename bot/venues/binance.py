"""Binance: account names, and which raw fields are really transferable.

Facts of ccxt 4.5.90 handled here:
- Binance's ccxt account names are `spot`, `linear` (USD-M) and `inverse` (COIN-M). `'future'`
  is not one of them (ccxt takes it as an isolated-margin symbol) and `fetch_balance` with
  `{'type': 'delivery'}` silently reads spot, so both are mapped before ccxt sees them.
- What USD-M and COIN-M let you move out is `maxWithdrawAmount` in the raw account info (it
  counts unrealized loss), not ccxt's `free` (which is `availableBalance`).
- The transfer reply carries only `tranId`.
- COIN-M balances come over Binance's WebSocket API (`account.balance`, ccxt.pro's
  `fetch_balance_ws`; seed 004), falling back to REST `/dapi/v1/account` when the socket fails.
  ccxt.pro puts no timeout on a WebSocket request, so the wait is bounded here. There the
  transferable amount is `withdrawAvailable` (REST: `maxWithdrawAmount`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from bot.aio import gather_or_cancel
from bot.model import SPOT, Wallet
from bot.money import ZERO, to_decimal, to_decimal_or_none
from bot.venues.venue import Venue

log = logging.getLogger(__name__)

LINEAR = "linear"
INVERSE = "inverse"

# Binance's universal transfer takes at most 8 decimals (more is rejected with -1111).
BINANCE_TRANSFER_STEP = Decimal("0.00000001")


class BinanceVenue(Venue):
    account_aliases: Mapping[str, str] = {
        "main": SPOT,
        "future": LINEAR,
        "futures": LINEAR,
        "swap": LINEAR,
        "usdm": LINEAR,
        "umfuture": LINEAR,
        "delivery": INVERSE,
        "coinm": INVERSE,
        "cmfuture": INVERSE,
    }

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return LINEAR if market.get("linear") else INVERSE

    async def connect(self) -> None:
        await super().connect()
        if self.ws_client is not None:
            # the WebSocket client needs the markets too; share them instead of loading twice
            self.ws_client.set_markets(self.client.markets, self.client.currencies)

    async def resync_clock(self) -> None:
        await super().resync_clock()
        if self.ws_client is not None:
            self.ws_client.options["timeDifference"] = self.client.options.get("timeDifference")

    async def read_wallets(self, account: str) -> list[Wallet]:
        if self.normalize_account(account) == INVERSE and self.ws_client is not None:
            try:
                wallets = await self._inverse_wallets_over_websocket()
            except (ccxt_async.BaseError, TimeoutError, OSError) as exc:
                log.warning(
                    "%s: COIN-M balance over WebSocket failed (%s); reading REST",
                    self.name,
                    type(exc).__name__,
                )
            else:
                self.sources[INVERSE] = "websocket"
                return wallets
        return await super().read_wallets(account)

    async def _inverse_wallets_over_websocket(self) -> list[Wallet]:
        assert self.ws_client is not None
        balance = await asyncio.wait_for(
            self.ws_client.fetch_balance_ws(), timeout=self.client.timeout / 1000
        )
        return [_websocket_futures_wallet(entry) for entry in balance.get("info") or []]

    def transfer_step(self, asset: str) -> Decimal:
        return max(super().transfer_step(asset), BINANCE_TRANSFER_STEP)

    def balance_params(self, account: str) -> dict[str, Any]:
        account = self.normalize_account(account)
        if account == LINEAR:
            return {"type": "swap", "subType": "linear"}
        if account == INVERSE:
            return {"type": "swap", "subType": "inverse"}
        return {"type": account}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        account = self.normalize_account(account)
        info = balance.get("info") or {}
        if account == SPOT:
            return [_spot_wallet(entry) for entry in info.get("balances", [])]
        if account in (LINEAR, INVERSE):
            return [_futures_wallet(account, entry) for entry in info.get("assets", [])]
        return super().parse_wallets(account, balance)

    async def read_positions(self, symbols: list[str]) -> list:  # type: ignore[type-arg]
        linear = [s for s in symbols if self._perps[s].futures_account == LINEAR]
        inverse = [s for s in symbols if self._perps[s].futures_account == INVERSE]
        reads = []  # USD-M and COIN-M positions are separate endpoints: read both at once
        if linear:
            reads.append(self.call(self.client.fetch_positions, linear))
        if inverse:
            reads.append(self.call(self.client.fetch_positions, inverse, {"subType": "inverse"}))
        found = [raw for batch in await gather_or_cancel(*reads) for raw in batch]
        positions = (self.parse_position(raw) for raw in found)
        return [p for p in positions if p is not None and p.symbol in symbols]

    def history_params(self, from_account: str, to_account: str) -> dict[str, Any]:
        return {
            "fromAccount": self.normalize_account(from_account),
            "toAccount": self.normalize_account(to_account),
        }

    def next_history_page(self, params: dict[str, Any], page: list[Any]) -> dict[str, Any]:
        """Binance pages its transfer history with `current` (1-based)."""
        return {**params, "current": int(params.get("current", 1)) + 1}

    async def transfer(self, asset, amount, from_account, to_account, client_id):  # type: ignore[no-untyped-def]
        return await super().transfer(
            asset,
            amount,
            self.normalize_account(from_account),
            self.normalize_account(to_account),
            client_id,
        )


def _spot_wallet(entry: Mapping[str, Any]) -> Wallet:
    free = to_decimal(entry.get("free", "0"), "free")
    locked = to_decimal(entry.get("locked", "0"), "locked")
    return Wallet(
        account=SPOT,
        asset=entry["asset"],
        free=free,
        used=locked,
        balance=free + locked,
        transferable=free,
    )


def _futures_wallet(account: str, entry: Mapping[str, Any]) -> Wallet:
    """USD-M `/fapi/v3/account` and COIN-M `/dapi/v1/account` asset entries."""
    balance = to_decimal(entry.get("walletBalance", "0"), "walletBalance")
    upnl = to_decimal_or_none(entry.get("unrealizedProfit"), "unrealizedProfit") or ZERO
    available = to_decimal_or_none(entry.get("availableBalance"), "availableBalance") or ZERO
    transferable = to_decimal_or_none(entry.get("maxWithdrawAmount"), "maxWithdrawAmount")
    if transferable is None:
        transferable = (
            to_decimal_or_none(entry.get("withdrawAvailable"), "withdrawAvailable") or ZERO
        )
    used = to_decimal_or_none(entry.get("initialMargin"), "initialMargin") or ZERO
    return Wallet(
        account=account,
        asset=entry["asset"],
        free=available,
        used=used,
        balance=balance,
        unrealized_pnl=upnl,
        transferable=max(ZERO, transferable),
    )


def _websocket_futures_wallet(entry: Mapping[str, Any]) -> Wallet:
    """COIN-M `account.balance` entries (seed 004): `withdrawAvailable` is what may leave."""
    balance = to_decimal(entry.get("balance", "0"), "balance")
    upnl = to_decimal_or_none(entry.get("crossUnPnl"), "crossUnPnl") or ZERO
    available = to_decimal_or_none(entry.get("availableBalance"), "availableBalance") or ZERO
    transferable = to_decimal(entry.get("withdrawAvailable", "0"), "withdrawAvailable")
    return Wallet(
        account=INVERSE,
        asset=entry["asset"],
        free=available,
        used=max(ZERO, balance + upnl - available),
        balance=balance,
        unrealized_pnl=upnl,
        transferable=max(ZERO, transferable),
    )
