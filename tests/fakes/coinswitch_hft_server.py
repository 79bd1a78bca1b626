"""CoinSwitch PRO's HFT surface on loopback, beside the Spot and Futures v2 endpoints of
`CoinSwitchServer` (markets, tickers, the CoinSwitch wallet's portfolio), so the stock
`coinswitch` ccxt client in HFT mode is tested over HTTP.

From the HFT pages (https://api-trading.coinswitch.co/hft/...): the same Ed25519 signing (the
body unsigned), every answer wrapped as `{"retCode", "retMsg", "result", "retExtInfo",
"time"}`, Bybit v5's shapes under `/v5` (the HFT account's `wallet-balance`, `position/list`),
and Transfer Funds (`POST /dma/api/v1/funds/transfer`): `direction` IN (wallet -> HFT) or OUT,
`amount` a JSON number, `quote_asset` USDT (default) or INR, locking the account's settlement
currency on the first transfer, and `client_txn_id`, whose repeat is rejected.

Undocumented, and chosen here (the bot's `exchange.py` says the same): a repeated
`client_txn_id` answers HTTP 400 `retMsg: "duplicate client_txn_id"`; a want of funds HTTP 400
`retMsg: "insufficient balance"`; an account never funded lists no account (`result.list` []).

Test hooks (the fake runs in its own thread under the bot's CLI: hold `book.lock`):
`fake.book` (the wallet, the HFT account, its positions, the transfers applied),
`fake.faults.add("POST", TRANSFER_PATH, FAIL_AFTER)` (`tests.fakes.faults`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.fakes.coinswitch_server import CoinSwitchServer, FakeState, dumps
from tests.fakes.faults import FAIL_AFTER, RATE_LIMITED, Fault, Faults

TRANSFER_PATH = "/dma/api/v1/funds/transfer"
WALLET_PATH = "/v5/account/wallet-balance"
POSITIONS_PATH = "/v5/position/list"
SETTLEMENT_ASSETS = ("USDT", "INR")
DUPLICATE = "duplicate client_txn_id"
INSUFFICIENT = "insufficient balance"


@dataclass(frozen=True)
class Applied:
    """One transfer the fake applied."""

    txn_id: str
    client_txn_id: str
    direction: str
    amount: Decimal
    quote_asset: str


@dataclass
class HftBook:
    """The HFT account and the CoinSwitch wallet it draws on, as one book under `lock`."""

    #: the HFT account's coins: asset -> walletBalance, unrealisedPnl, IMs (Decimal)
    coins: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    #: Bybit v5 position rows, as served
    positions: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[Applied] = field(default_factory=list)
    #: the CoinSwitch wallet (the spot portfolio's `main_balance`), by asset
    wallet: dict[str, Decimal] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def settlement(self) -> str | None:
        """What the first transfer locked the account to (None: never funded)."""
        return self.transfers[0].quote_asset if self.transfers else self.preset_lock

    preset_lock: str | None = None  # an account funded before the test (its coins say so)

    def hft_balance(self, asset: str) -> Decimal:
        return self.coins.get(asset, {}).get("walletBalance", Decimal(0))


def short_eth(size: str = "1.5", mark: str = "3515.523", pnl: str = "-25.8795") -> dict:
    """A Bybit v5 position row: ETHUSDT short (`side` Sell) in one-way mode."""
    value = str(Decimal(size) * Decimal(mark))
    return {
        "positionIdx": 0,
        "symbol": "ETHUSDT",
        "side": "Sell",
        "size": size,
        "avgPrice": "3498.27",
        "positionValue": value,
        "markPrice": mark,
        "unrealisedPnl": pnl,
        "positionIM": "1054.6569",
        "positionMM": "26.3664225",
        "liqPrice": "4183.50",
        "leverage": "5",
        "tradeMode": 0,
        "positionStatus": "Normal",
        "createdTime": "1732838400000",
        "updatedTime": "1732838400000",
    }


def default_book() -> HftBook:
    """An HFT account funded in USDT: 800 USDT against the ETH short (5273.2845 notional,
    1054.6569 initial margin), unrealized -25.8795; the CoinSwitch wallet holds 20000 USDT
    and 5000 INR, and the spot leg: 1.5 ETH."""
    return HftBook(
        coins={
            "USDT": {
                "walletBalance": Decimal("800"),
                "unrealisedPnl": Decimal("-25.8795"),
                "totalPositionIM": Decimal("1054.6569"),  # the short's positionIM
                "totalOrderIM": Decimal("0"),
            }
        },
        positions=[short_eth()],
        wallet={"USDT": Decimal("20000"), "INR": Decimal("5000"), "ETH": Decimal("1.5")},
        preset_lock="USDT",
    )


def envelope(result: Any, now: int, code: int = 0, message: str = "OK") -> str:
    """The HFT envelope; Decimals in `result` are written as JSON numbers of their digits."""
    return dumps(
        {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}, "time": now}
    )


class CoinSwitchHftServer(CoinSwitchServer):
    """`CoinSwitchServer` plus the HFT surface; `hft_urls()` points a client at both."""

    def __init__(self, *, book: HftBook | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.book = book or default_book()
        self.faults = Faults()
        self.transfer_bodies: list[dict[str, Any]] = []  # every Transfer Funds body received
        self._stopping: asyncio.Event | None = None
        self._sync_wallet()

    def hft_urls(self) -> dict[str, str]:
        """The client's urls['api']: Spot and Futures v2 here, and the HFT sections."""
        return {
            **self.api_urls(),
            "hft": self.base_url,
            "dma": self.base_url + "/dma/api/v1",
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            *super().routes(),
            web.get(WALLET_PATH, self._hft_wallet),
            web.get(POSITIONS_PATH, self._hft_positions),
            web.post(TRANSFER_PATH, self._transfer),
        ]

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        await super().start()

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # releases a held (timed-out) answer
        await super().stop()

    # the CoinSwitch wallet is the portfolio the Spot API serves -------------------------------

    def _sync_wallet(self) -> None:
        """Write the book's wallet into the portfolio rows `GET /user/portfolio` serves."""
        rows = {row["currency"]: row for row in self.state.portfolio}
        for asset, amount in self.book.wallet.items():
            row = rows.get(asset)
            if row is None:
                row = {"currency": asset, "blocked_balance_order": "0", "name": asset}
                self.state.portfolio.append(row)
            row["main_balance"] = str(amount)
            row["blocked_balance_order"] = "0"

    async def _portfolio(self, request: web.Request) -> web.Response:
        with self.book.lock:
            self._sync_wallet()
            return await super()._portfolio(request)

    # HFT reads ------------------------------------------------------------------------------

    async def _hft_wallet(self, request: web.Request) -> web.Response:
        if request.query.get("accountType") != "UNIFIED":
            return self._refuse(400, "accountType must be UNIFIED")
        with self.book.lock:
            coins = [
                {
                    "coin": asset,
                    "walletBalance": str(figures["walletBalance"]),
                    "equity": str(figures["walletBalance"] + figures["unrealisedPnl"]),
                    "unrealisedPnl": str(figures["unrealisedPnl"]),
                    "totalPositionIM": str(figures["totalPositionIM"]),
                    "totalOrderIM": str(figures["totalOrderIM"]),
                    "locked": "0",
                }
                for asset, figures in self.book.coins.items()
            ]
        accounts = [{"accountType": "UNIFIED", "coin": coins}] if coins else []
        return self._answer({"list": accounts})

    async def _hft_positions(self, request: web.Request) -> web.Response:
        if request.query.get("category") != "linear":
            return self._refuse(400, "category must be linear")
        symbol = request.query.get("symbol")
        with self.book.lock:
            rows = [dict(r) for r in self.book.positions if symbol in (None, r["symbol"])]
        return self._answer({"category": "linear", "list": rows, "nextPageCursor": ""})

    # Transfer Funds -------------------------------------------------------------------------

    async def _transfer(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        try:
            body = json.loads(text, parse_float=Decimal)
        except ValueError:
            return self._refuse(400, "the body is not JSON")
        self.transfer_bodies.append(body)
        fault = self.faults.take("POST", TRANSFER_PATH)
        if fault is not None and not fault.applies:
            return self._fault_answer(fault)
        answer = self._apply(body)
        if fault is None:
            return answer
        if fault.kind == FAIL_AFTER:
            return self._fault_answer(fault)
        assert self._stopping is not None  # TIMEOUT_AFTER: the client gave up long before
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), fault.hold)
        return answer

    def _apply(self, body: dict[str, Any]) -> web.Response:
        direction = body.get("direction")
        amount = body.get("amount")
        asset = body.get("quote_asset", "USDT")
        client_txn_id = body.get("client_txn_id")
        if direction not in ("IN", "OUT"):
            return self._refuse(400, "direction must be IN or OUT")
        if not isinstance(amount, Decimal | int) or isinstance(amount, bool) or amount <= 0:
            return self._refuse(400, "amount must be a number greater than zero")
        amount = Decimal(amount)
        if asset not in SETTLEMENT_ASSETS:
            return self._refuse(400, "quote_asset must be USDT or INR")
        with self.book.lock:
            if client_txn_id and any(t.client_txn_id == client_txn_id for t in self.book.transfers):
                return self._refuse(400, DUPLICATE)
            locked = self.book.settlement
            if locked is not None and asset != locked:
                return self._refuse(
                    400, f"quote_asset must match the account's settlement currency {locked}"
                )
            source = self.book.wallet if direction == "IN" else None
            available = (
                source.get(asset, Decimal(0)) if source is not None else self._hft_available(asset)
            )
            if amount > available:
                return self._refuse(400, INSUFFICIENT)
            coin = self.book.coins.setdefault(
                asset,
                {
                    "walletBalance": Decimal(0),
                    "unrealisedPnl": Decimal(0),
                    "totalPositionIM": Decimal(0),
                    "totalOrderIM": Decimal(0),
                },
            )
            sign = 1 if direction == "IN" else -1
            coin["walletBalance"] += sign * amount
            self.book.wallet[asset] = self.book.wallet.get(asset, Decimal(0)) - sign * amount
            applied = Applied(
                txn_id=str(uuid.uuid4()),
                client_txn_id=str(client_txn_id or uuid.uuid4()),
                direction=direction,
                amount=amount,
                quote_asset=asset,
            )
            self.book.transfers.append(applied)
        result = {
            "amount": amount,  # a JSON number of the amount's own digits
            "client_txn_id": applied.client_txn_id,
            "direction": direction,
            "txn_id": applied.txn_id,
        }
        return self._answer(result)

    def _hft_available(self, asset: str) -> Decimal:
        """What may leave the HFT account: its balance less the margin held and any loss."""
        coin = self.book.coins.get(asset)
        if coin is None:
            return Decimal(0)
        free = coin["walletBalance"] - coin["totalPositionIM"] - coin["totalOrderIM"]
        return max(free + min(coin["unrealisedPnl"], Decimal(0)), Decimal(0))

    # answers --------------------------------------------------------------------------------

    def _answer(self, result: Any) -> web.Response:
        return web.Response(text=envelope(result, self.now_ms()), content_type="application/json")

    def _refuse(self, status: int, message: str) -> web.Response:
        return web.Response(
            status=status,
            text=envelope({}, self.now_ms(), code=status, message=message),
            content_type="application/json",
        )

    def _fault_answer(self, fault: Fault) -> web.Response:
        if fault.kind == RATE_LIMITED:
            return self._refuse(429, "Too many requests, please try again later")
        content_type = "application/json" if fault.body[:1] in "{[" else "text/plain"
        return web.Response(status=fault.status, text=fault.body, content_type=content_type)


__all__ = ["CoinSwitchHftServer", "FakeState", "HftBook"]
