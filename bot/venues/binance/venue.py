"""Binance: account names, and which raw fields are really transferable.

Facts of ccxt 4.5.90 handled here:
- Binance's ccxt account names are `spot`, `linear` (USD-M) and `inverse` (COIN-M). `'future'`
  is not one of them (ccxt takes it as an isolated-margin symbol) and `fetch_balance` with
  `{'type': 'delivery'}` silently reads spot, so both are mapped before ccxt sees them.
- Wallets and positions are read from Binance's own endpoints (`/api/v3/account`,
  `/fapi/v3/account`, `/dapi/v1/account`, `/fapi/v3/positionRisk`, `/dapi/v1/positionRisk`, the
  paths ccxt's unified methods call) and decoded strictly here, field by field, from Binance's
  strings: ccxt's unified parsing would turn a missing `assets` into an empty wallet.
- What USD-M and COIN-M let you move out is `maxWithdrawAmount` (it counts unrealized loss),
  not `availableBalance`. It is required: a read without it sizes nothing.
- The transfer reply carries only `tranId`.
- COIN-M balances come over Binance's WebSocket API (`account.balance`, ccxt.pro's
  `fetch_balance_ws`, documented in Binance's "WebSocket API" for COIN-M futures), falling back
  to REST `/dapi/v1/account` when the socket fails or answers what cannot be trusted.
  ccxt.pro puts no timeout on a WebSocket request, so the wait is bounded here. There the
  transferable amount is `withdrawAvailable` (REST: `maxWithdrawAmount`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import ccxt.async_support as ccxt_async

from bot.config import HedgeConfig
from bot.errors import ErrorKind, VenueError
from bot.model import (
    CROSS,
    ISOLATED,
    MARGIN_MODES,
    SPOT,
    MarginChange,
    MarketKind,
    PerpMarket,
    Position,
    VenueState,
    VenueTransfer,
    Wallet,
)
from bot.money import ZERO, plain
from bot.runtime.aio import gather_or_cancel
from bot.venues.base import ErrorTable, TransferReceipt, VenueTraits
from bot.venues.binance import account_mode, funding_info, multi_assets
from bot.venues.binance.funding_info import FundingInfo
from bot.venues.binance.streams import BinanceStreams
from bot.venues.decode import Decoder, Sign, Untrusted
from bot.venues.generic import (
    HISTORY_PAGE,
    MAX_HISTORY_PAGES,
    CcxtVenue,
    unknown_reply,
)
from bot.venues.ratelimit import Bucket, Limiter, UsageLimiter

log = logging.getLogger(__name__)

LINEAR = "linear"
INVERSE = "inverse"
PORTFOLIO_MARGIN_MODULE = "bot.venues.binance.portfolio_margin"
MULTI_ASSETS_MODULE = "bot.venues.binance.multi_assets_venue"

# Binance's own error codes (Binance's "Error Codes" pages for spot, USD-M and COIN-M); read by
# `errors.classify` before ccxt's classes, which ccxt picks by hostname (against any host but
# binance.com a -5013 is a plain ExchangeError).
BINANCE_ERRORS = ErrorTable(
    # -3041: margin balance insufficient; -4050 / -4051: cross / isolated balance insufficient
    # for a positionMargin change (Binance's futures "Error Codes": a definite refusal)
    insufficient=frozenset({"-5013", "-2019", "-3041", "-4050", "-4051"}),
    # "execution status unknown" (-1006, -1007), unknown or internal errors (-1000, -1001,
    # -9000), server busy (-1008) and "service no longer available" (-1016): the request may
    # have been applied. The README's error table gives the source of each row.
    unknown=frozenset({"-1000", "-1001", "-1006", "-1007", "-1008", "-1016", "-9000"}),
    clock=frozenset({"-1021"}),
    rate_limited=frozenset({"-1003", "-1015"}),
    fatal_hints={
        "-2015": "check the API key, enable Universal Transfer on it, and whitelist this IP",
        "-2014": "the API key format is invalid; check the variable named by api_key_env",
        "-1022": "the signature was refused; check the secret named by secret_env",
        "-1002": "the request is not authorized; check the API key's permissions",
        "-1111": "the amount has more decimals than the venue accepts (a rounding bug: report it)",
        "-1100": "the venue refused a parameter; this is a bug in the bot",
        "-1102": "a required parameter was missing; this is a bug in the bot",
        "-4001": "the venue refused the transfer type; check the account names",
        "-4049": "the position is in cross margin on the venue; set the hedge's margin_mode",
        "-4054": "the position is flat on the venue; there is no isolated margin to change",
        "-4055": "the margin amount was not positive (a bug in the bot: report it)",
    },
)

# Binance's published weight limits per minute and the headers that report their use (Spot API
# "LIMITS", https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits; USD-M and
# COIN-M "General Info": REQUEST_WEIGHT 2400 per minute, in X-MBX-USED-WEIGHT-1M). Each /sapi
# endpoint has its own IP (12000) or UID (180000) weight, reported in its own header.
BINANCE_LIMITS = (
    Bucket("/api/", 6000, "X-MBX-USED-WEIGHT-1M"),
    Bucket(
        "/sapi/",
        12000,
        "X-SAPI-USED-IP-WEIGHT-1M",
        per_endpoint=True,
        other_headers={"X-SAPI-USED-UID-WEIGHT-1M": 180000},
    ),
    Bucket("/fapi/", 2400, "X-MBX-USED-WEIGHT-1M"),
    Bucket("/dapi/", 2400, "X-MBX-USED-WEIGHT-1M"),
)


def family_of(perp: str) -> str | None:
    """USD-M (`linear`) or COIN-M (`inverse`) from a unified perpetual symbol, before markets
    are loaded: settled in its quote (ETH/USDT:USDT) or its base (BTC/USD:BTC); None when the
    symbol does not say (then both families are loaded)."""
    pair, _, settle = perp.partition(":")
    base, _, quote = pair.partition("/")
    if settle and settle == quote:
        return LINEAR
    if settle and settle == base:
        return INVERSE
    return None


# Binance's universal transfer takes at most 8 decimals (more is rejected with -1111).
BINANCE_TRANSFER_STEP = Decimal("0.00000001")


# WebSocket API methods that only read. Binance's WebSocket API (ccxt.pro 4.5.90) signs each
# request on its own (no session.logon) and keeps the socket alive with protocol-level pings, so
# ccxt sends nothing else by itself.
WS_READS = frozenset(
    {
        "account.balance",
        "account.status",
        "account.position",
        "v2/account.balance",
        "v2/account.status",
        "v2/account.position",
    }
)

BINANCE_TRAITS = VenueTraits(
    funding_time_is_server_time=True,  # premiumIndex `time` (USD-M and COIN-M "Mark Price")
    funding_interval=funding_info.DEFAULT_INTERVAL,  # a symbol fundingInfo does not list
    account_aliases={
        "main": SPOT,
        "future": LINEAR,
        "futures": LINEAR,
        "swap": LINEAR,
        "usdm": LINEAR,
        "umfuture": LINEAR,
        "delivery": INVERSE,
        "coinm": INVERSE,
        "cmfuture": INVERSE,
    },
    # the Funding wallet's balances: POST /sapi/v1/asset/get-funding-asset (a hedge's
    # `spot_leg_wallets: [funding]`)
    dry_run_rest_reads=frozenset({("POST", "sapi/asset/get-funding-asset")}),
    dry_run_ws_reads=WS_READS,
    # the COIN-M balance over the WebSocket API `account.balance` (ccxt's default method is
    # `account.status`), from the venues whose hedges can be COIN-M
    ws_balance_classes={"binance": "binancecoinm", "binancecoinm": "binancecoinm"},
    ws_balance_options={"fetchBalanceWs": {"method": "account.balance"}},
    # one ccxt.pro client per futures family, of that family's class: ccxt.pro renews a listen
    # key for the client's default type only, so the multi-market `binance` class would let a
    # futures key lapse after 60 minutes. Stream URLs can be pointed elsewhere (config's
    # `urls: ws.*`, the paper exchange), so no stream reaches out unasked.
    stream_classes={LINEAR: "binanceusdm", INVERSE: "binancecoinm"},
    paper=True,  # the built-in paper exchange speaks Binance
)


class BinanceVenue(CcxtVenue):
    exchange_ids = ("binance", "binanceusdm", "binancecoinm")
    traits = BINANCE_TRAITS
    error_table = BINANCE_ERRORS
    #: the universal transfer's wallet codes, by the bot's account names
    wallet_codes: ClassVar[Mapping[str, str]] = {
        SPOT: "MAIN",
        LINEAR: "UMFUTURE",
        INVERSE: "CMFUTURE",
    }

    #: whether USD-M hedges here depend on the USD-M asset mode (`multi_assets.py`); a
    #: Portfolio Margin account has no such mode
    reads_usdm_asset_mode: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_margin: dict[str, dict[str, Decimal]] = {}  # account -> symbol -> margin
        self._funding_info = FundingInfo(self._read_funding_info)

    async def _load_funding_intervals(self) -> None:
        """The hedged families' funding intervals: from the cached markets' facts, else read
        now and saved with them (`funding_info.py`)."""
        families = sorted({market.kind.value for market in self._perps.values()})
        if not families:
            return
        saved = self.connect_facts.get(funding_info.FACT)
        if isinstance(saved, Mapping) and self._funding_info.seed(saved, families):
            return
        fact = await self._funding_info.fact(families)
        if fact is not None:
            self.connect_facts[funding_info.FACT] = fact

    async def funding_interval(self, symbol: str, raw: Mapping[str, Any]) -> timedelta | None:
        """The symbol's interval from `fundingInfo` (`funding_info.py`): premiumIndex has none."""
        market = self._perps.get(symbol)
        family = market.kind.value if market is not None else LINEAR
        return await self._funding_info.interval(family, symbol)

    async def _read_funding_info(self, family: str) -> Any:
        return await self.call(self.client.fetch_funding_intervals, None, {"subType": family})

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return LINEAR if market.get("linear") else INVERSE

    @classmethod
    def for_options(cls, options: Mapping[str, Any]) -> type[CcxtVenue]:
        """ccxt's own `portfolioMargin` option asks for a Portfolio Margin account, which has
        its own venue class (`portfolio_margin.py`), verified at connect, never assumed. That
        class builds on this one, so it is imported by name when chosen (as the registry
        imports venue folders), never by this module."""
        if cls is BinanceVenue and options.get("portfolioMargin") is True:
            module = importlib.import_module(PORTFOLIO_MARGIN_MODULE)
            chosen: type[CcxtVenue] = module.BinancePortfolioMarginVenue
            return chosen
        if cls is BinanceVenue and options.get(multi_assets.OPTION) is True:
            module = importlib.import_module(MULTI_ASSETS_MODULE)
            multi: type[CcxtVenue] = module.BinanceMultiAssetsVenue
            return multi
        return cls

    @classmethod
    def ccxt_options(cls, hedges: Mapping[str, HedgeConfig]) -> dict[str, Any]:
        """Load only the market families the hedges use: spot, and USD-M and/or COIN-M by each
        perpetual's settle currency. Currencies (`/sapi/v1/capital/config/getall`) and margin
        pairs (`/sapi/v1/margin/allPairs`, `.../isolated/allPairs`) are not loaded: the bot
        trades neither, and each is megabytes on Binance; the transfer step is Binance's 8
        decimals (`BINANCE_TRANSFER_STEP`) or the market-derived step, whichever is coarser."""
        families = {family_of(hedge.perp) for hedge in hedges.values()}
        types = ["spot", *(t for t in (LINEAR, INVERSE) if t in families or None in families)]
        return {"fetchMarkets": {"types": types}, "fetchCurrencies": False, "fetchMargins": False}

    @classmethod
    def futures_families(cls, hedges: Mapping[str, HedgeConfig]) -> set[str]:
        families = {family_of(hedge.perp) for hedge in hedges.values()}
        return {LINEAR, INVERSE} if None in families else {f for f in families if f}

    @classmethod
    def rate_limiter(cls, client: ccxt_async.Exchange) -> Limiter:
        return UsageLimiter(BINANCE_LIMITS)

    @classmethod
    def reads_over_websocket(cls, hedges: Mapping[str, HedgeConfig]) -> bool:
        """Only the COIN-M balance is read over the WebSocket API: a venue whose hedges are all
        USD-M opens no socket and never imports ccxt.pro. A venue without hedges (reconcile,
        `bot balances` of every venue) keeps it, as its capabilities say it has one."""
        return not hedges or any(family_of(h.perp) != LINEAR for h in hedges.values())

    def margin_streams(self) -> BinanceStreams | None:
        """The account and mark-price streams the margin guard follows, where this venue has
        them for every family it hedges (None: the guard polls it)."""
        families = {market.kind.value for market in self._perps.values()}
        clients = self.stream_clients
        if not families or not families <= clients.keys():
            return None
        if not all(BinanceStreams.supported(clients[f]) for f in families):
            return None
        return BinanceStreams(self.name, clients, self._perps)

    async def connect(self) -> None:
        await super().connect()
        await self._check_usdm_asset_mode()
        await self._load_funding_intervals()
        if self.ws_client is not None:
            # the WebSocket client needs the markets too; share them instead of loading twice
            self.ws_client.set_markets(self.client.markets, self.client.currencies)

    async def _check_usdm_asset_mode(self) -> None:
        """A USD-M hedge's pool is judged by the settle asset's cross figures, which holds in
        single-asset mode only: the mode is read (or taken from the cached markets' facts) and
        a multi-assets account's hedges are refused (`multi_assets.py`)."""
        if not self.reads_usdm_asset_mode or not self._settles(LINEAR):
            return
        multi = self.connect_facts.get(multi_assets.FACT)
        if not isinstance(multi, bool):
            try:
                raw = await self.call(self.client.fapiPrivateGetMultiAssetsMargin)
            except VenueError as exc:
                if await self._on_portfolio_margin(exc):
                    raise self.hedges_refused(account_mode.CLASSIC_ON_PORTFOLIO) from None
                raise
            multi = multi_assets.decode_mode(Decoder(self.name, multi_assets.MODE_PATH), raw)
            self.connect_facts[multi_assets.FACT] = multi
        self.account_mode = multi_assets.mode_name(multi)
        if multi:
            raise self.hedges_refused(multi_assets.REFUSAL)

    async def resync_clock(self) -> None:
        await super().resync_clock()
        if self.ws_client is not None:
            self.ws_client.options["timeDifference"] = self.client.options.get("timeDifference")

    async def read_state(self) -> VenueState:
        state = await super().read_state()
        self._check_flat_against_account(state)
        return state

    async def read_wallets(self, account: str) -> list[Wallet]:
        account = self.normalize_account(account)
        if account == INVERSE and self.ws_client is not None:
            try:
                wallets = await self._inverse_wallets_over_websocket()
            except (ccxt_async.BaseError, TimeoutError, OSError, Untrusted) as exc:
                log.warning(
                    "%s: COIN-M balance over WebSocket failed (%s); reading REST",
                    self.name,
                    type(exc).__name__,
                )
            else:
                self.sources[INVERSE] = "websocket"
                return wallets
        if account not in ENDPOINTS:
            return await super().read_wallets(account)
        endpoint = ENDPOINTS[account]
        try:
            raw = await self.call(getattr(self.client, endpoint.method), {})
        except VenueError as exc:
            if account != SPOT and await self._on_portfolio_margin(exc):
                raise self.hedges_refused(account_mode.CLASSIC_ON_PORTFOLIO) from None
            raise
        self.sources[account] = "rest"
        decoder = Decoder(self.name, endpoint.path)
        if account == SPOT:
            return decode_spot_account(decoder, raw)
        wallets, held = decode_futures_account(decoder, raw, account, self._settles(account))
        self._held_margin[account] = held
        return wallets

    async def _on_portfolio_margin(self, refused: VenueError) -> bool:
        """Whether a futures read refused with -2015 met a Portfolio Margin account (its PM
        API answers the same key): asked only then, so a classic read costs nothing more."""
        return account_mode.key_refused(refused) and await account_mode.other_api_answers(
            lambda: self.call(self.client.papiGetAccount)
        )

    def _settles(self, account: str) -> set[str]:
        return {m.settle for m in self._perps.values() if m.futures_account == account}

    async def _inverse_wallets_over_websocket(self) -> list[Wallet]:
        assert self.ws_client is not None
        balance = await asyncio.wait_for(
            self.ws_client.fetch_balance_ws(), timeout=self.client.timeout / 1000
        )
        decoder = Decoder(self.name, "WebSocket account.balance")
        info = decoder.mapping(balance, "the answer").get("info")
        return decode_websocket_balance(decoder, info, self._settles(INVERSE))

    def transfer_step(self, asset: str) -> Decimal:
        return max(super().transfer_step(asset), BINANCE_TRANSFER_STEP)

    def balance_params(self, account: str) -> dict[str, Any]:
        account = self.normalize_account(account)
        if account == LINEAR:
            return {"type": "swap", "subType": "linear"}
        if account == INVERSE:
            return {"type": "swap", "subType": "inverse"}
        return {"type": account}

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        by_account: dict[str, list[str]] = {LINEAR: [], INVERSE: []}
        for symbol in symbols:
            by_account[self._perps[symbol].futures_account].append(symbol)
        families = [account for account in (LINEAR, INVERSE) if by_account[account]]
        # USD-M and COIN-M positions are separate endpoints: read both at once
        answers = await gather_or_cancel(
            *(self.call(getattr(self.client, POSITIONS[a].method), {}) for a in families)
        )
        found: list[Position] = []
        for account, raw in zip(families, answers, strict=True):
            markets = {self.client.market(s)["id"]: self._perps[s] for s in by_account[account]}
            decoder = Decoder(self.name, POSITIONS[account].path)
            found += decode_position_risk(decoder, raw, markets)
        return found

    def _check_flat_against_account(self, state: VenueState) -> None:
        """ "Flat" is a fact only when the account agrees: no margin held for the symbol."""
        for symbol, market in self._perps.items():
            if symbol in state.positions:
                continue
            market_id = self.client.market(symbol)["id"]
            held = self._held_margin.get(market.futures_account, {}).get(market_id)
            if held:
                raise Untrusted(
                    self.name,
                    POSITIONS[market.futures_account].path,
                    f"no open position in {market_id}, but "
                    f"{ENDPOINTS[market.futures_account].path} holds {plain(held)} "
                    f"{market.settle} of initial margin for it; the two reads disagree",
                )

    # moving money: Binance's own endpoints, decoded here --------------------------------------

    def transfer_type(self, from_account: str, to_account: str) -> str:
        """Binance's universal transfer type for a direction (`MAIN_UMFUTURE`...)."""
        source = self.wallet_codes.get(self.normalize_account(from_account))
        target = self.wallet_codes.get(self.normalize_account(to_account))
        if source is None or target is None or source == target:
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"no universal transfer from {from_account!r} to {to_account!r} "
                f"(accounts: {', '.join(sorted(self.wallet_codes))})",
            )
        return f"{source}_{target}"

    async def transfer(self, asset, amount, from_account, to_account, client_id):  # type: ignore[no-untyped-def]
        """POST /sapi/v1/asset/transfer; only a reply carrying a positive `tranId` confirms."""
        request = {
            "type": self.transfer_type(from_account, to_account),
            "asset": asset,
            "amount": plain(amount),
        }
        raw = await self.send(TRANSFER_PATH, self.client.sapiPostAssetTransfer, request)
        decoder = Decoder(self.name, f"POST {TRANSFER_PATH}")
        try:
            tran_id = decode_tran_id(decoder, decoder.mapping(raw), "the answer")
        except Untrusted as exc:
            raise unknown_reply(exc) from None
        return TransferReceipt(exchange_id=tran_id, status=None, raw=raw)

    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: datetime
    ) -> list[VenueTransfer]:
        """GET /sapi/v1/asset/transfer for one direction since `since` (Binance's clock), every
        page, decoded strictly. Paging is bounded: a page that adds nothing new before `total`
        is reached (a server ignoring `current`) or more than MAX_HISTORY_PAGES is an error, and
        so are pages that end before listing `total` transfers (the next run asks again)."""
        transfer_type = self.transfer_type(from_account, to_account)
        source, target = self.normalize_account(from_account), self.normalize_account(to_account)
        decoder = Decoder(self.name, f"GET {TRANSFER_PATH}")
        found: dict[str, VenueTransfer] = {}
        for current in range(1, MAX_HISTORY_PAGES + 1):
            request = {
                "type": transfer_type,
                "startTime": int(since.timestamp() * 1000),
                "size": HISTORY_PAGE,
                "current": current,
            }
            raw = await self.call(self.client.sapiGetAssetTransfer, request)
            total, rows = decode_transfer_page(decoder, raw, transfer_type, source, target)
            new = [row for row in rows if row.exchange_id not in found]
            found.update((row.exchange_id, row) for row in new)
            if len(found) >= total:
                return [row for row in found.values() if row.asset == asset]
            if len(rows) < HISTORY_PAGE:  # the last page, yet fewer than `total` were listed
                raise decoder.refuse(
                    f"the pages list {len(found)} transfers of the {total} its total counts"
                )
            if not new:
                raise decoder.refuse(
                    f"page {current} repeats earlier pages ({len(found)} of {total} read): the "
                    "venue ignores paging"
                )
        raise decoder.refuse(
            f"more than {MAX_HISTORY_PAGES} pages of {HISTORY_PAGE} ({total} transfers since "
            f"{since.isoformat()}); stopped rather than risk the venue's rate limit"
        )

    # isolated margin: Binance's own endpoints, decoded here --------------------------------

    async def read_position(self, symbol: str) -> Position | None:
        """A fresh positionRisk read of one hedged perp (None when flat)."""
        found = await self.read_positions([symbol])
        return next((p for p in found if p.symbol == symbol), None)

    async def add_margin(self, symbol: str, amount: Decimal) -> None:
        """POST positionMargin type 1 (Binance "Modify Isolated Position Margin")."""
        await self._modify_margin(symbol, amount, 1)

    async def reduce_margin(self, symbol: str, amount: Decimal) -> None:
        """POST positionMargin type 2: never more than the venue lets leave (-4051 else)."""
        await self._modify_margin(symbol, amount, 2)

    async def _modify_margin(self, symbol: str, amount: Decimal, change_type: int) -> None:
        post, _ = MARGIN_ENDPOINTS[self._perps[symbol].futures_account]
        request = {
            "symbol": self.client.market(symbol)["id"],
            "type": change_type,
            "amount": plain(amount),
        }
        raw = await self.send(post.path, getattr(self.client, post.method), request)
        decoder = Decoder(self.name, post.path)
        try:
            decode_margin_reply(decoder, raw, change_type, amount)
        except Untrusted as exc:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"{exc.detail}; the margin change may have been applied",
                hint="reconciling against the margin history before anything else",
            ) from None

    async def margin_history(self, symbol: str, since: datetime) -> list[MarginChange]:
        """GET positionMargin/history of `symbol` since `since` (Binance's clock)."""
        account = self._perps[symbol].futures_account
        _, history = MARGIN_ENDPOINTS[account]
        market_id = self.client.market(symbol)["id"]
        limit = MARGIN_HISTORY_LIMIT[account]
        request = {"symbol": market_id, "startTime": int(since.timestamp() * 1000), "limit": limit}
        raw = await self.call(getattr(self.client, history.method), request)
        decoder = Decoder(self.name, history.path)
        return decode_margin_history(decoder, raw, market_id, symbol, limit)


TRANSFER_PATH = "/sapi/v1/asset/transfer"


def decode_tran_id(decoder: Decoder, entry: Mapping[str, Any], path: str) -> str:
    """`tranId`: a positive integer (Binance sends a JSON number; digits as text are taken)."""
    value = decoder.field(entry, "tranId", path)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise decoder.refuse(f"{path}.tranId is {value!r}, not a transfer id")
    return str(value)


def decode_transfer_page(
    decoder: Decoder, raw: Any, transfer_type: str, source: str, target: str
) -> tuple[int, list[VenueTransfer]]:
    """One page of GET /sapi/v1/asset/transfer: `total` and its `rows`. The documented example
    always has `rows`; `{"total": 0}` without it is still read as empty (the one reading of a
    missing list that cannot hide a transfer), never a `total` above 0 without rows."""
    answer = decoder.mapping(raw)
    total = decoder.field(answer, "total", "the answer")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise decoder.refuse(f"the answer.total is {total!r}, not a count")
    if "rows" not in answer and total == 0:
        return 0, []
    rows = decoder.sequence(decoder.field(answer, "rows", "the answer"), "the answer.rows")
    if total < len(rows):
        raise decoder.refuse(f"the answer.total is {total} but it lists {len(rows)} rows")
    entries = []
    for index, row in enumerate(rows):
        path = f"rows.{index}"
        kind = decoder.text(row, "type", path)
        if kind != transfer_type:
            raise decoder.refuse(f"{path}.type is {kind!r}; {transfer_type} was asked for")
        timestamp = decoder.field(row, "timestamp", path)
        if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp <= 0:
            raise decoder.refuse(f"{path}.timestamp is {timestamp!r}, not a time in ms")
        entries.append(
            VenueTransfer(
                exchange_id=decode_tran_id(decoder, row, path),
                client_id=None,
                asset=decoder.text(row, "asset", path),
                amount=decoder.decimal(row, "amount", path, sign=Sign.POSITIVE),
                from_account=source,
                to_account=target,
                at=datetime.fromtimestamp(timestamp / 1000, UTC),
                status=decoder.text(row, "status", path),
            )
        )
    return total, entries


@dataclass(frozen=True)
class Endpoint:
    method: str  # ccxt's implicit method
    path: str  # Binance's path, for messages


ENDPOINTS = {
    SPOT: Endpoint("privateGetAccount", "GET /api/v3/account"),
    LINEAR: Endpoint("fapiPrivateV3GetAccount", "GET /fapi/v3/account"),
    INVERSE: Endpoint("dapiPrivateGetAccount", "GET /dapi/v1/account"),
}
POSITIONS = {
    LINEAR: Endpoint("fapiPrivateV3GetPositionRisk", "GET /fapi/v3/positionRisk"),
    INVERSE: Endpoint("dapiPrivateGetPositionRisk", "GET /dapi/v1/positionRisk"),
}


def decode_spot_account(decoder: Decoder, raw: Any) -> list[Wallet]:
    """`GET /api/v3/account`: `balances` of `{asset, free, locked}`."""
    rows = decoder.sequence(decoder.field(decoder.mapping(raw), "balances", "answer"), "balances")
    wallets = []
    for index, entry in enumerate(rows):
        path = f"balances[{index}]"
        asset = decoder.text(entry, "asset", path)
        free = decoder.decimal(entry, "free", asset, sign=Sign.NON_NEGATIVE)
        locked = decoder.decimal(entry, "locked", asset, sign=Sign.NON_NEGATIVE)
        wallets.append(
            Wallet(
                account=SPOT,
                asset=asset,
                free=free,
                used=locked,
                balance=free + locked,
                transferable=free,
            )
        )
    decoder.unique((w.asset for w in wallets), "asset")
    return wallets


def decode_futures_account(
    decoder: Decoder, raw: Any, account: str, settles: set[str]
) -> tuple[list[Wallet], dict[str, Decimal]]:
    """USD-M `GET /fapi/v3/account` and COIN-M `GET /dapi/v1/account`.

    Returns the wallets and the initial margin the account holds per symbol (its `positions`),
    which is how a flat position read is confirmed. What may leave the wallet is
    `maxWithdrawAmount` (it counts unrealized loss), required: without it nothing is sized.
    The cross pool's own figures (`crossWalletBalance`, `crossUnPnl`) are required too: the
    wallet totals count every isolated position's wallet, which a cross hedge may not.
    """
    answer = decoder.mapping(raw)
    rows = decoder.sequence(decoder.field(answer, "assets", "answer"), "assets", allow_empty=False)
    wallets = []
    for index, entry in enumerate(rows):
        asset = decoder.text(entry, "asset", f"assets[{index}]")
        path = f"assets {asset}"
        wallets.append(
            Wallet(
                account=account,
                asset=asset,
                free=decoder.decimal(entry, "availableBalance", path),
                used=decoder.decimal(entry, "initialMargin", path, sign=Sign.NON_NEGATIVE),
                balance=decoder.decimal(entry, "walletBalance", path),
                unrealized_pnl=decoder.decimal(entry, "unrealizedProfit", path),
                transferable=decoder.decimal(
                    entry, "maxWithdrawAmount", path, sign=Sign.NON_NEGATIVE
                ),
                cross_balance=decoder.decimal(entry, "crossWalletBalance", path),
                cross_unrealized_pnl=decoder.decimal(entry, "crossUnPnl", path),
            )
        )
    decoder.unique((w.asset for w in wallets), "asset")
    listed = {w.asset for w in wallets}
    for asset in sorted(settles - listed):
        raise decoder.refuse(f"assets has no entry for {asset}, the hedges' collateral")
    held: dict[str, Decimal] = {}
    positions = decoder.sequence(decoder.field(answer, "positions", "answer"), "positions")
    for index, entry in enumerate(positions):
        symbol = decoder.text(entry, "symbol", f"positions[{index}]")
        path = f"positions {symbol}"
        margin = decoder.decimal(entry, "initialMargin", path, sign=Sign.NON_NEGATIVE)
        amount = decoder.decimal(entry, "positionAmt", path)
        if margin or amount:
            held[symbol] = held.get(symbol, ZERO) + (margin or abs(amount))
    return wallets, held


def decode_websocket_balance(decoder: Decoder, info: Any, settles: set[str]) -> list[Wallet]:
    """COIN-M `account.balance` over the WebSocket API: `withdrawAvailable` may leave."""
    rows = decoder.sequence(info, "result", allow_empty=False)
    wallets = []
    for index, entry in enumerate(rows):
        asset = decoder.text(entry, "asset", f"result[{index}]")
        balance = decoder.decimal(entry, "balance", asset)
        upnl = decoder.decimal(entry, "crossUnPnl", asset)
        available = decoder.decimal(entry, "availableBalance", asset)
        wallets.append(
            Wallet(
                account=INVERSE,
                asset=asset,
                free=available,
                used=max(ZERO, balance + upnl - available),
                balance=balance,
                unrealized_pnl=upnl,
                transferable=decoder.decimal(
                    entry, "withdrawAvailable", asset, sign=Sign.NON_NEGATIVE
                ),
                cross_balance=decoder.decimal(entry, "crossWalletBalance", asset),
                cross_unrealized_pnl=upnl,
            )
        )
    decoder.unique((w.asset for w in wallets), "asset")
    for asset in sorted(settles - {w.asset for w in wallets}):
        raise decoder.refuse(f"result has no entry for {asset}, the hedges' collateral")
    return wallets


def decode_position_risk(
    decoder: Decoder, raw: Any, markets: Mapping[str, PerpMarket]
) -> list[Position]:
    """`positionRisk` rows of the hedged symbols (by Binance id). One-way mode only: two rows
    for a symbol, or a LONG/SHORT side, is hedge mode, whose legs the bot cannot net."""
    rows = decoder.sequence(raw, "the answer")
    seen: set[str] = set()
    positions = []
    for index, entry in enumerate(rows):
        market_id = decoder.text(entry, "symbol", f"[{index}]")
        market = markets.get(market_id)
        if market is None:
            continue
        side = entry.get("positionSide", "BOTH") if isinstance(entry, Mapping) else None
        if market_id in seen or side != "BOTH":
            raise decoder.refuse(f"two rows for {market_id} (hedge mode is not supported)")
        seen.add(market_id)
        position = _position(decoder, entry, market_id, market)
        if position is not None:
            positions.append(position)
    return positions


def _position(
    decoder: Decoder, entry: Mapping[str, Any], market_id: str, market: PerpMarket
) -> Position | None:
    amount = decoder.decimal(entry, "positionAmt", market_id)
    if amount == 0:
        return None
    mark = decoder.decimal(entry, "markPrice", market_id, sign=Sign.POSITIVE)
    notional_field = "notional" if market.kind is MarketKind.LINEAR else "notionalValue"
    notional = decoder.decimal(entry, notional_field, market_id)
    if notional == 0:
        raise decoder.refuse(f"{market_id}.{notional_field} is 0 for an open position")
    return Position(
        symbol=market.symbol,
        side="short" if amount < 0 else "long",
        contracts=abs(amount),
        contract_size=market.contract_size,
        notional=abs(notional),
        entry_price=decoder.optional_decimal(entry, "entryPrice", market_id, sign=Sign.POSITIVE),
        mark_price=mark,
        unrealized_pnl=decoder.decimal(entry, "unRealizedProfit", market_id),
        initial_margin=decoder.optional_decimal(
            entry, "initialMargin", market_id, sign=Sign.NON_NEGATIVE
        ),
        maintenance_margin=decoder.optional_decimal(
            entry, "maintMargin", market_id, sign=Sign.NON_NEGATIVE
        ),
        liquidation_price=decoder.optional_decimal(
            entry, "liquidationPrice", market_id, sign=Sign.NON_NEGATIVE
        ),
        **decode_margin_mode(decoder, entry, market_id),
    )


def decode_margin_mode(
    decoder: Decoder, entry: Mapping[str, Any], market_id: str
) -> dict[str, Any]:
    """`marginType` ("cross" / "isolated", `/fapi/v2` and `/dapi/v1` positionRisk) and
    `isolatedWallet`. `/fapi/v3/positionRisk` has no `marginType`: there an open position is
    isolated exactly when its `isolatedWallet` is above 0 (an isolated position always holds its
    own margin; a cross one shows "0"), which is how ccxt reads it too. An isolated position
    without a positive `isolatedWallet` is refused: its equity would be a guess."""
    wallet = decoder.optional_decimal(entry, "isolatedWallet", market_id, sign=Sign.NON_NEGATIVE)
    raw_type = entry.get("marginType")
    if raw_type is None:
        if wallet is None:
            return {"margin_mode": None, "isolated_wallet": None}
        mode = ISOLATED if wallet > 0 else CROSS
    elif raw_type in MARGIN_MODES:
        mode = raw_type
    else:
        raise decoder.refuse(f"{market_id}.marginType is {raw_type!r}, not cross or isolated")
    if mode == CROSS:
        return {"margin_mode": CROSS, "isolated_wallet": None}
    if wallet is None or wallet <= 0:
        raise decoder.refuse(
            f"{market_id} is isolated but its isolatedWallet is {wallet}; its margin is unknown"
        )
    return {"margin_mode": ISOLATED, "isolated_wallet": wallet}


MARGIN_ENDPOINTS = {
    LINEAR: (
        Endpoint("fapiPrivatePostPositionMargin", "POST /fapi/v1/positionMargin"),
        Endpoint("fapiPrivateGetPositionMarginHistory", "GET /fapi/v1/positionMargin/history"),
    ),
    INVERSE: (
        Endpoint("dapiPrivatePostPositionMargin", "POST /dapi/v1/positionMargin"),
        Endpoint("dapiPrivateGetPositionMarginHistory", "GET /dapi/v1/positionMargin/history"),
    ),
}
# Binance's documented default `limit` of positionMargin/history: 500 on USD-M, 50 on COIN-M
MARGIN_HISTORY_LIMIT = {LINEAR: 500, INVERSE: 50}


def decode_margin_reply(decoder: Decoder, raw: Any, change_type: int, amount: Decimal) -> None:
    """A positionMargin answer: `{"amount", "code": 200, "msg", "type"}`; anything else leaves
    the change's outcome unknown (it was sent)."""
    answer = decoder.mapping(raw)
    code = decoder.field(answer, "code", "the answer")
    if code != 200 and code != "200":
        raise decoder.refuse(f"the answer.code is {code!r}, not 200")
    echoed = decoder.field(answer, "type", "the answer")
    if str(echoed) != str(change_type):
        raise decoder.refuse(f"the answer.type is {echoed!r}; {change_type} was sent")
    if decoder.decimal(answer, "amount", "the answer", sign=Sign.POSITIVE) != amount:
        raise decoder.refuse(f"the answer.amount is not the {plain(amount)} sent")


def decode_margin_history(
    decoder: Decoder, raw: Any, market_id: str, symbol: str, limit: int
) -> list[MarginChange]:
    """GET positionMargin/history rows of one symbol: type 1 add, 2 reduce (Binance's own
    automatic adjustments carry other `deltaType`s but the same types)."""
    rows = decoder.sequence(raw, "the answer")
    if len(rows) >= limit:
        raise decoder.refuse(
            f"{len(rows)} margin changes in one answer (the limit): the list may be cut short"
        )
    found = []
    for index, row in enumerate(rows):
        path = f"[{index}]"
        listed = decoder.text(row, "symbol", path)
        if listed != market_id:
            raise decoder.refuse(f"{path}.symbol is {listed!r}; {market_id} was asked for")
        change_type = decoder.field(row, "type", path)
        if str(change_type) not in ("1", "2") or isinstance(change_type, bool):
            raise decoder.refuse(f"{path}.type is {change_type!r}, not 1 (add) or 2 (reduce)")
        at = decoder.field(row, "time", path)
        if isinstance(at, bool) or not isinstance(at, int) or at <= 0:
            raise decoder.refuse(f"{path}.time is {at!r}, not a time in ms")
        found.append(
            MarginChange(
                symbol=symbol,
                add=str(change_type) == "1",
                amount=decoder.decimal(row, "amount", path, sign=Sign.POSITIVE),
                asset=decoder.text(row, "asset", path),
                at=datetime.fromtimestamp(at / 1000, UTC),
            )
        )
    return found
