"""The generic ccxt venue: any exchange with spot, perpetuals and `transfer()`.

`CcxtVenue` implements `base.Venue` on ccxt's unified methods. Its client is built with
`number = str`, so ccxt's unified figures arrive as the venue's own text and are decoded
strictly (`decode.Decoder`): a missing, non-finite, absurd or contradictory figure refuses the
venue for the cycle instead of reading as zero. Venues with quirks subclass it and override the
small hooks (`balance_params`, `parse_wallets`, `parse_position`...).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import ccxt.async_support as ccxt_async
from ccxt.base.decimal_to_precision import TICK_SIZE

from bot.config import HedgeConfig
from bot.errors import DryRunRefusal, ErrorKind, VenueError, VenueUnusable
from bot.model import (
    MARGIN_MODES,
    SPOT,
    Funding,
    LeverageTier,
    MarketKind,
    PerpMarket,
    Position,
    VenueState,
    VenueTransfer,
    Wallet,
)
from bot.money import DEFAULT_TRANSFER_STEP, ZERO, plain, step_from_precision, to_decimal
from bot.runtime.aio import gather_each, gather_or_cancel
from bot.runtime.retry import RetryPolicy, Timing, retry_read
from bot.venues.base import (
    Capabilities,
    FundingPayment,
    TransferReceipt,
    Venue,
    hedge_refusal,
)
from bot.venues.decode import Decoder, Sign, Untrusted
from bot.venues.errors import classify
from bot.venues.funding_interval import parse_interval
from bot.venues.ratelimit import BurstLimiter, Limiter

T = TypeVar("T")
log = logging.getLogger(__name__)


HISTORY_PAGE = 100
#: A history read stops with an error past this many pages: a server that ignores paging must
#: not keep the bot asking (and holding the venue lock) until the venue bans its IP.
MAX_HISTORY_PAGES = 20


class CcxtVenue(Venue):
    """A configured venue: a ccxt client plus the hedges that live on it.

    Serves every ccxt exchange id no venue folder claims. A venue folder's subclass names its
    ids (`exchange_ids`), declares its `traits`, and, where ccxt lacks the exchange, our own
    ccxt class for it (`ccxt_class`)."""

    #: our own ccxt `Exchange` class, for an exchange ccxt lacks (None: ccxt's class by id)
    ccxt_class: ClassVar[type[ccxt_async.Exchange] | None] = None
    #: the config `surface` values this venue serves (`VenueConfig.surface`): one API, or
    #: CoinSwitch PRO's Futures v2 and HFT
    surfaces: ClassVar[frozenset[str]] = frozenset({"futures"})
    #: whether a top-up may move the spot leg's own coin as margin (`HedgeConfig.collateral`):
    #: only where the venue counts that coin in the short's pool (Binance multi-assets mode)
    takes_coin_collateral: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        client: ccxt_async.Exchange,
        hedges: Mapping[str, HedgeConfig],
        *,
        policy: RetryPolicy | None = None,
        timing: Timing | None = None,
        ws_client: ccxt_async.Exchange | None = None,
        stream_clients: Mapping[str, ccxt_async.Exchange] | None = None,
    ):
        self.name = name
        self.client = client
        self.ws_client = ws_client  # a ccxt.pro client, where this venue reads over WebSocket
        #: ccxt.pro clients for the margin guard's streams, by futures family (linear, inverse)
        self.stream_clients = dict(stream_clients or {})
        self.sources: dict[str, str] = {}  # account -> how it was last read (rest, websocket)
        self.hedges = dict(hedges)
        self.policy = policy or RetryPolicy()
        self.timing = timing or Timing()
        self._perps: dict[str, PerpMarket] = {}
        self._tiers: dict[str, tuple[LeverageTier, ...]] = {}  # read once per session
        self._clock_offset: int | None = None  # measured once per session, on first need
        #: the account's mode, where the venue's class reads it at connect time (its own words)
        self.account_mode: str | None = None
        #: facts read at connect that change as rarely as markets (Binance's USD-M asset mode):
        #: saved and loaded with the cached markets, so a one-shot run does not ask again
        self.connect_facts: dict[str, Any] = {}

    # building -------------------------------------------------------------------------------

    @classmethod
    def for_options(cls, options: Mapping[str, Any]) -> type[CcxtVenue]:
        """The class that serves the account mode the venue's ccxt `options` ask for (Binance's
        `portfolioMargin`); a venue with one kind of account is served by its own class."""
        return cls

    @classmethod
    def ccxt_options(cls, hedges: Mapping[str, HedgeConfig]) -> dict[str, Any]:
        """ccxt option defaults for this venue's client (config's `ccxt.options` win): what
        to load for these hedges and nothing more."""
        return {}

    @classmethod
    def futures_families(cls, hedges: Mapping[str, HedgeConfig]) -> set[str]:
        """The futures families (linear, inverse) these hedges use, where the venue streams
        them per family (the margin guard's stream clients); empty elsewhere."""
        return set()

    @classmethod
    def reads_over_websocket(cls, hedges: Mapping[str, HedgeConfig]) -> bool:
        """Whether these hedges need the venue's WebSocket client (and so ccxt.pro) at all."""
        return False

    @classmethod
    def rate_limiter(cls, client: ccxt_async.Exchange) -> Limiter:
        """The client's limiter: ccxt's published request interval, a cycle's burst at once."""
        return BurstLimiter(float(client.rateLimit or 0) / 1000)

    # lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Load markets and check that the venue and every hedge's markets are what it needs."""
        await self.call(self.client.load_markets)
        if self.hedges:
            refusal = hedge_refusal(self.capabilities())
            if refusal is not None:
                raise self.hedges_refused(refusal)
        for hedge_name, hedge in self.hedges.items():
            self._check_spot(hedge_name, hedge)
            self._perps[hedge.perp] = self._perp_market(hedge_name, hedge)
            self._check_accounts(hedge_name, self._perps[hedge.perp])
            self._check_collateral(hedge_name, hedge, self._perps[hedge.perp])
            self.check_hedge_terms(hedge_name, hedge)
        for stream_client in self.stream_clients.values():
            stream_client.set_markets(self.client.markets, self.client.currencies)

    def hedges_refused(self, refusal: str) -> VenueUnusable:
        """The one line that refuses this venue's hedges: the venue, why, and which hedges."""
        names = ", ".join(sorted(self.hedges))
        return VenueUnusable(f"venues.{self.name}: {refusal} (hedges: {names})")

    @property
    def perp_markets(self) -> Mapping[str, PerpMarket]:
        """The hedged perpetuals, by symbol, as `connect` found them."""
        return dict(self._perps)

    async def reload_markets(self) -> None:
        await self.call(self.client.load_markets, True)
        self._clock_offset = None  # a long-lived session measures the clock again too
        await self.connect()

    def check_hedge_terms(self, hedge_name: str, hedge: HedgeConfig) -> None:
        """A hedge's target and reserve must be in terms this venue's accounts have: a unified
        account's figure and reserve wallet mean nothing where spot and futures are apart."""
        if hedge.account_target is not None or hedge.reserve_wallet is not None:
            what = (
                f"target.{hedge.account_target.figure}"
                if hedge.account_target is not None
                else "reserve_wallet"
            )
            raise VenueUnusable(
                f"hedges.{hedge_name}.{what} is for a unified account, and {self.name} keeps "
                "spot and futures wallets apart: use target_margin_ratio or target: "
                "{liquidation_distance}, and drop reserve_wallet"
            )

    def _check_collateral(self, hedge_name: str, hedge: HedgeConfig, market: PerpMarket) -> None:
        """`collateral` names the settle asset, and the spot leg's coin only where this venue
        counts it as the short's margin."""
        for asset in hedge.collateral:
            if asset == market.settle:
                continue
            if asset != hedge.base or not self.takes_coin_collateral:
                raise VenueUnusable(
                    f"hedges.{hedge_name}.collateral: {asset} cannot margin {hedge.perp} on "
                    f"{self.name} (only Binance USD-M multi-assets mode counts the spot leg's "
                    f"coin): list {market.settle} only, or drop collateral"
                )

    def _check_accounts(self, hedge_name: str, market: PerpMarket) -> None:
        """A venue that transfers must know the account names the bot will send it."""
        accounts = self.client.options.get("accountsByType")
        if not self.can_transfer or self.shared_collateral or not isinstance(accounts, Mapping):
            return
        for account in (self.spot_account, market.futures_account):
            if account not in accounts:
                raise VenueUnusable(
                    f"hedges.{hedge_name}: {self.client.id} has no account named {account!r} "
                    f"for transfers (its accounts: {', '.join(sorted(accounts))})"
                )

    def capabilities(self) -> Capabilities:
        """What this venue can do for the bot, read from ccxt's `has` and its markets."""
        has = self.client.has
        markets = self.client.markets or {}
        accounts = self.client.options.get("accountsByType")
        ids = self.client_ids
        return Capabilities(
            exchange_id=self.client.id,
            balances=bool(has.get("fetchBalance")),
            positions=bool(has.get("fetchPositions")),
            funding=bool(has.get("fetchFundingRate")),
            transfer=self.can_transfer,
            transfer_history=self.can_fetch_transfers,
            client_ids=f"{ids.param}{' (deduped)' if ids.dedupes else ''}" if ids else None,
            websocket_balance=self.ws_client is not None,
            shared_collateral=self.shared_collateral,
            swap_markets=sum(1 for m in markets.values() if m.get("swap")),
            accounts=tuple(sorted(accounts)) if isinstance(accounts, Mapping) else (),
            account_mode=self.account_mode,
            deduped_client_ids=ids is not None and ids.dedupes,
        )

    async def close(self) -> None:
        """Close every client of the venue at once (none of them sleeps: `clients`)."""
        clients = [c for c in (self.client, self.ws_client, *self.stream_clients.values()) if c]
        outcomes = await gather_each({str(i): c.close() for i, c in enumerate(clients)})
        for outcome in outcomes.values():
            if isinstance(outcome, Exception):
                raise outcome  # after every client is closed

    # capabilities ---------------------------------------------------------------------------

    @property
    def can_transfer(self) -> bool:
        return bool(self.client.has.get("transfer"))

    @property
    def can_fetch_transfers(self) -> bool:
        return bool(self.client.has.get("fetchTransfers"))

    @property
    def spot_account(self) -> str:
        """The account that holds the spot leg (and spot collateral)."""
        return SPOT

    def futures_account(self, market: Mapping[str, Any]) -> str:
        """The account that margins `market` (ccxt's generic name for derivatives)."""
        return "swap"

    def transfer_step(self, asset: str) -> Decimal:
        """The smallest unit a transfer of `asset` may be expressed in."""
        currency = self.client.currencies.get(asset) if self.client.currencies else None
        step = None
        if currency is not None:
            precision = currency.get("precision")
            step = step_from_precision(
                repr(precision) if isinstance(precision, float) else precision,
                tick_size=self.client.precisionMode == TICK_SIZE,
            )
        return step or DEFAULT_TRANSFER_STEP

    # reading --------------------------------------------------------------------------------

    async def read_state(self) -> VenueState:
        """Wallets of every account the hedges use, positions, funding: read concurrently,
        then checked against each other (`check_state`)."""
        accounts = sorted(
            {
                self.spot_account,
                *(m.futures_account for m in self._perps.values()),
                *(w for h in self.hedges.values() for w in h.spot_leg_wallets),
                *(h.reserve_wallet for h in self.hedges.values() if h.reserve_wallet),
            }
        )
        symbols = sorted(self._perps)
        wallet_lists, positions, funding, tiers = await gather_or_cancel(
            gather_or_cancel(*(self.read_wallets(account) for account in accounts)),
            self.read_positions(symbols),
            gather_or_cancel(*(self.read_funding(symbol) for symbol in symbols)),
            self.read_leverage_tiers(),
        )
        wallets = {(w.account, w.asset): w for ws in wallet_lists for w in ws}
        # one position per symbol: two (hedge mode, or a venue listing one twice) cannot be
        # netted into one short without guessing
        Decoder(self.name, "positions").unique((p.symbol for p in positions), "the position of")
        assets = {m.settle for m in self._perps.values()}
        state = VenueState(
            venue=self.name,
            read_at=datetime.now(UTC),
            wallets=wallets,
            positions={p.symbol: p for p in positions},
            funding={f.symbol: f for f in funding},
            markets=dict(self._perps),
            transfer_steps={asset: self.transfer_step(asset) for asset in assets},
            can_transfer=self.can_transfer,
            shared_collateral=self.shared_collateral,
            sources=dict(self.sources),
            leverage_tiers=tiers,
        )
        self.check_state(state)
        return state

    def check_state(self, state: VenueState) -> None:
        """Refuse a state that contradicts the hedges: a perpetual that is long where the
        hedge is a short is not a hedge, and topping it up would add to a naked bet."""
        for hedge_name, hedge in self.hedges.items():
            position = state.positions.get(hedge.perp)
            if position is not None and position.side != "short":
                raise Untrusted(
                    self.name,
                    "positions",
                    f"hedge {hedge_name}: {hedge.perp} is {position.side} "
                    f"{plain(position.contracts)} contracts, but a hedge is short the perpetual; "
                    "close the long or remove the hedge from config",
                )

    async def read_wallets(self, account: str) -> list[Wallet]:
        balance = await self.call(self.client.fetch_balance, self.balance_params(account))
        self.sources[account] = "rest"
        return self.parse_wallets(account, balance)

    async def read_transferable(self, account: str, asset: str) -> Decimal:
        """What can leave `account` in `asset` right now (a fresh read, never a cached one)."""
        for wallet in await self.read_wallets(account):
            if wallet.asset == asset:
                return wallet.transferable
        return ZERO

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": account}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        """Unified ccxt balance (figures as the venue's text) -> wallets; `free` is taken as
        transferable. An asset the venue does not list holds nothing; one it lists with a
        figure that is not a number refuses the venue."""
        decoder = Decoder(self.name, f"fetch_balance {account}")
        balance = decoder.mapping(balance, "the balance")
        wallets = []
        for asset, entry in balance.items():
            if asset in {"info", "free", "used", "total", "timestamp", "datetime", "debt"}:
                continue
            if not isinstance(entry, Mapping):
                continue
            free = decoder.optional_decimal(entry, "free", asset, sign=Sign.NON_NEGATIVE)
            used = decoder.optional_decimal(entry, "used", asset, sign=Sign.NON_NEGATIVE)
            total = decoder.optional_decimal(entry, "total", asset, sign=Sign.NON_NEGATIVE)
            if free is None:
                if total is not None or used is not None:
                    raise decoder.refuse(f"{asset}.free is missing")
                continue
            wallets.append(
                Wallet(
                    account=account,
                    asset=asset,
                    free=free,
                    used=used or ZERO,
                    balance=total if total is not None else free + (used or ZERO),
                    transferable=free,
                )
            )
        return wallets

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        if not symbols:
            return []
        raw = await self.call(self.client.fetch_positions, symbols)
        return self.parse_positions(raw, symbols, "fetch_positions")

    def parse_positions(self, raw: Any, symbols: list[str], endpoint: str) -> list[Position]:
        """Decode a list of unified positions; one open position per hedged symbol at most."""
        decoder = Decoder(self.name, endpoint)
        rows = decoder.sequence(raw, "the positions")
        positions = [
            p
            for p in (self.parse_position(r) for r in rows)
            if p is not None and p.symbol in symbols
        ]
        return positions

    def parse_position(self, raw: Any) -> Position | None:
        decoder = Decoder(self.name, "fetch_positions")
        symbol = decoder.text(raw, "symbol", "position")
        market = self._perps.get(symbol)
        if market is None:
            return None
        path = f"position {symbol}"
        contracts = abs(decoder.decimal(raw, "contracts", path))
        if contracts == 0:
            return None
        side = decoder.text(raw, "side", path).lower()
        if side not in ("long", "short"):
            raise decoder.refuse(f"{path}.side is {side!r}, not long or short")
        size_of_contract = decoder.optional_decimal(raw, "contractSize", path, sign=Sign.POSITIVE)
        contract_size = size_of_contract or market.contract_size
        mark = decoder.decimal(raw, "markPrice", path, sign=Sign.POSITIVE)
        notional = decoder.optional_decimal(raw, "notional", path)
        if notional is None:
            size = contracts * contract_size
            notional = size * mark if market.kind is MarketKind.LINEAR else size / mark
        if notional == 0:
            raise decoder.refuse(f"{path}.notional is 0 for an open position")
        return Position(
            symbol=market.symbol,
            side=side,
            contracts=contracts,
            contract_size=contract_size,
            notional=abs(notional),
            entry_price=decoder.optional_decimal(raw, "entryPrice", path, sign=Sign.NON_NEGATIVE),
            mark_price=mark,
            unrealized_pnl=decoder.optional_decimal(raw, "unrealizedPnl", path) or ZERO,
            initial_margin=decoder.optional_decimal(
                raw, "initialMargin", path, sign=Sign.NON_NEGATIVE
            ),
            maintenance_margin=decoder.optional_decimal(
                raw, "maintenanceMargin", path, sign=Sign.NON_NEGATIVE
            ),
            liquidation_price=decoder.optional_decimal(
                raw, "liquidationPrice", path, sign=Sign.NON_NEGATIVE
            ),
            margin_mode=self.parse_margin_mode(decoder, raw, path),
        )

    async def read_leverage_tiers(self) -> dict[str, tuple[LeverageTier, ...]]:
        """Maintenance-margin tiers of the perps whose hedge targets a liquidation distance,
        read once per session (they change rarely) through ccxt's `fetch_leverage_tiers`. A
        venue that cannot tell them still trades: the policy then says it used the position's
        maintenance margin instead. A hedge judged by its account's own figure needs none: the
        venue computes the figure from the account's whole requirement."""
        wanted = sorted(
            {h.perp for h in self.hedges.values() if h.liquidation_target is not None}
            & set(self._perps)
        )
        if not wanted or not self.client.has.get("fetchLeverageTiers"):
            return {}
        missing = [s for s in wanted if s not in self._tiers]
        families: dict[str, list[str]] = {}
        for symbol in missing:
            families.setdefault(self._perps[symbol].kind.value, []).append(symbol)
        for kind, symbols in sorted(families.items()):
            try:
                raw = await self.call(
                    self.client.fetch_leverage_tiers, symbols, self.leverage_tier_params(kind)
                )
                self._tiers.update(decode_leverage_tiers(self.name, raw, symbols))
            except VenueError as exc:
                log.warning("%s: leverage brackets not read (%s)", self.name, exc)
        return {s: self._tiers[s] for s in wanted if s in self._tiers}

    def leverage_tier_params(self, kind: str) -> dict[str, Any]:
        """ccxt's unified `subType` picks the USD-M or COIN-M bracket endpoint."""
        return {"subType": kind}

    def parse_margin_mode(self, decoder: Decoder, raw: Any, path: str) -> str | None:
        """ccxt's unified `marginMode` ("cross" / "isolated"); None where the venue says none.
        The generic venue reads no isolated wallet, so its isolated hedges plan nothing."""
        mode = raw.get("marginMode") if isinstance(raw, Mapping) else None
        if mode is None:
            return None
        if mode not in MARGIN_MODES:
            raise decoder.refuse(f"{path}.marginMode is {mode!r}, not cross or isolated")
        return str(mode)

    async def read_position(self, symbol: str) -> Position | None:
        """A fresh read of one hedged perp's position (None when flat)."""
        found = await self.read_positions([symbol])
        return next((p for p in found if p.symbol == symbol), None)

    async def read_funding(self, symbol: str) -> Funding:
        if not self.client.has.get("fetchFundingRate"):
            return Funding(symbol=symbol, rate=None, mark_price=None)
        before = time.time()
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        after = time.time()
        decoder = Decoder(self.name, "fetch_funding_rate")
        raw = decoder.mapping(raw)
        if self.traits.funding_time_is_server_time and _from_ms(raw.get("timestamp")):
            self._clock_offset = _offset_ms(raw["timestamp"], before, after)
        next_ms = raw.get("nextFundingTimestamp") or raw.get("fundingTimestamp")
        return Funding(
            symbol=symbol,
            rate=decoder.optional_decimal(raw, "fundingRate", symbol),
            mark_price=decoder.optional_decimal(raw, "markPrice", symbol, sign=Sign.POSITIVE),
            next_funding_at=_from_ms(next_ms),
            interval=await self.funding_interval(symbol, raw),
        )

    async def funding_interval(self, symbol: str, raw: Mapping[str, Any]) -> timedelta | None:
        """How often `symbol` pays: ccxt's `interval` where the venue states it (Bybit, OKX,
        Bitget, Hyperliquid's "1h"), else the venue's documented default
        (`traits.funding_interval`), else unknown."""
        return parse_interval(raw.get("interval")) or self.traits.funding_interval

    # moving money ---------------------------------------------------------------------------

    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """Send one transfer. The amount must already be rounded down to `transfer_step`.

        Raises `VenueError` (classified as a state-changing call: a reply that is not a
        well-formed success carrying the venue's transfer id is `unknown`) or `DryRunRefused`.
        """
        params = self.transfer_params(client_id)
        raw = await self.send(
            "transfer",
            self.client.transfer,
            asset,
            plain(amount),
            from_account,
            to_account,
            params,
        )
        return self.decode_receipt(raw)

    def decode_receipt(self, raw: Any) -> TransferReceipt:
        """ccxt's unified transfer -> receipt; without the venue's transfer id it is `unknown`."""
        decoder = Decoder(self.name, "transfer")
        try:
            answer = decoder.mapping(raw)
            exchange_id = transfer_id(decoder, answer, "id", "the answer")
        except Untrusted as exc:
            raise unknown_reply(exc) from None
        status = answer.get("status")
        return TransferReceipt(
            exchange_id=exchange_id,
            status=status if isinstance(status, str) else None,
            raw=answer.get("info") if isinstance(answer.get("info"), Mapping) else {},
        )

    async def send(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Make one state-changing call, once (never retried here): every failure becomes a
        `VenueError` classified as state-changing, an answer ccxt cannot even parse `unknown`."""
        try:
            return await fn(*args)
        except (DryRunRefusal, VenueError):
            raise
        except ccxt_async.BaseError as exc:
            raise self._classify(exc, state_changing=True) from None
        except (TimeoutError, OSError) as exc:
            raise self._classify(exc, state_changing=True) from None
        except Exception as exc:  # ccxt choking on a malformed answer: it was sent
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"{what}: the answer could not be read ({type(exc).__name__})",
                hint="the request was sent; reconciling before anything else",
            ) from None

    def transfer_params(self, client_id: str) -> dict[str, Any]:
        """Extra parameters carrying our client transfer id, where the venue takes one."""
        support = self.client_ids
        if support is None:
            return {}
        value = str(uuid.UUID(hex=client_id)) if support.uuid_format else client_id
        return {support.param: value}

    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: datetime
    ) -> list[VenueTransfer]:
        """The venue's own record of transfers in one direction since `since` (the venue's
        clock): one page of ccxt's unified `fetch_transfers`, every entry decoded strictly. A
        full page is an error (ccxt has no generic paging), never a partial answer."""
        since_ms = int(since.timestamp() * 1000)
        params = self.history_params(from_account, to_account)
        page = await self.call(self.client.fetch_transfers, asset, since_ms, HISTORY_PAGE, params)
        decoder = Decoder(self.name, "fetch_transfers")
        rows = decoder.sequence(page, "the answer")
        if len(rows) >= HISTORY_PAGE:
            raise decoder.refuse(
                f"{len(rows)} transfers since {since.isoformat()}, a full page; the bot reads "
                "one page of this venue's history, so it cannot tell what is missing"
            )
        return [self.parse_history_entry(decoder, raw, f"entry {i}") for i, raw in enumerate(rows)]

    def history_params(self, from_account: str, to_account: str) -> dict[str, Any]:
        return {"fromAccount": from_account, "toAccount": to_account}

    def parse_history_entry(self, decoder: Decoder, raw: Any, path: str) -> VenueTransfer:
        """One unified history entry; an entry without id, amount or time is refused."""
        raw = decoder.mapping(raw, path)
        info = raw.get("info") if isinstance(raw.get("info"), Mapping) else {}
        support = self.client_ids
        client_id = info.get(support.param) if support is not None else None
        timestamp = decoder.field(raw, "timestamp", path)
        at = _from_ms(timestamp)
        if at is None:
            raise decoder.refuse(f"{path}.timestamp is {timestamp!r}, not a time in ms")
        status = raw.get("status")
        return VenueTransfer(
            exchange_id=transfer_id(decoder, raw, "id", path),
            client_id=str(client_id).replace("-", "") if client_id else None,
            asset=decoder.text(raw, "currency", path),
            amount=decoder.number(info.get("amount", raw.get("amount")), f"{path}.amount"),
            from_account=raw.get("fromAccount"),
            to_account=raw.get("toAccount"),
            at=at,
            status=status if isinstance(status, str) else None,
        )

    async def funding_payments(self, since: datetime) -> list[FundingPayment]:
        """Each hedge's funding payments since `since`, through ccxt's `fetch_funding_history`
        (on Binance: USD-M `GET /fapi/v1/income` and COIN-M `GET /dapi/v1/income` with
        incomeType FUNDING_FEE), paged forward by time; every entry decoded strictly."""
        if not self.client.has.get("fetchFundingHistory"):
            return []
        found: dict[str, FundingPayment] = {}
        for perp in sorted({hedge.perp for hedge in self.hedges.values()}):
            start = int(since.timestamp() * 1000)
            decoder = Decoder(self.name, "fetch_funding_history")
            for _ in range(MAX_HISTORY_PAGES):
                page = await self.call(
                    self.client.fetch_funding_history, perp, start, FUNDING_PAGE, {}
                )
                rows = decoder.sequence(page, "the answer")
                payments = [
                    decode_funding_payment(decoder, raw, perp, f"entry {i}")
                    for i, raw in enumerate(rows)
                ]
                for payment in payments:
                    found.setdefault(payment.exchange_id, payment)
                if len(rows) < FUNDING_PAGE:
                    break
                start = int(max(p.at for p in payments).timestamp() * 1000) + 1
            else:
                raise decoder.refuse(f"more than {MAX_HISTORY_PAGES} pages of funding for {perp}")
        return sorted(found.values(), key=lambda p: (p.at, p.exchange_id))

    async def resync_clock(self) -> None:
        """Measure the venue's clock again after it said our timestamp was off."""
        self._clock_offset = None
        try:
            await self.client.load_time_difference()
        except ccxt_async.BaseError as exc:
            raise self._classify(exc, state_changing=False) from None

    async def clock_offset_ms(self) -> int | None:
        """The venue's clock minus ours, from its server time against the midpoint of the
        round trip: taken from every funding read where the answer carries the server's time
        (`traits.funding_time_is_server_time`), else measured once per session (and again
        after a resync) with `fetch_time`."""
        if self._clock_offset is None and self.client.has.get("fetchTime"):
            before = time.time()
            server = await self.call(self.client.fetch_time)
            after = time.time()
            if isinstance(server, str) and server.isdigit():
                server = int(server)
            if _from_ms(server) is None:
                raise Untrusted(self.name, "fetch_time", f"the server time is {server!r}")
            self._clock_offset = _offset_ms(server, before, after)
        return self._clock_offset

    # helpers --------------------------------------------------------------------------------

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a read against the venue, retrying what is transient; any failure that remains
        becomes a classified `VenueError`. An answer ccxt cannot even parse (an empty body,
        HTML, truncated JSON) is `Untrusted`, never a traceback and never an empty wallet."""

        async def once() -> T:
            try:
                return await fn(*args)
            except ccxt_async.BaseError as exc:
                raise self._classify(exc, state_changing=False) from None
            except (TimeoutError, OSError) as exc:
                raise self._classify(exc, state_changing=False) from None
            except (VenueError, DryRunRefusal):
                raise
            except Exception as exc:  # ccxt choking on a malformed answer
                raise Untrusted(
                    self.name,
                    _endpoint_name(fn),
                    f"the answer could not be read ({type(exc).__name__}: {exc})"[:300],
                ) from None

        return await retry_read(once, self.policy, self.timing, on_clock_error=self.resync_clock)

    def _classify(self, exc: BaseException, *, state_changing: bool) -> VenueError:
        error = classify(
            exc, venue=self.name, state_changing=state_changing, table=self.error_table
        )
        if error.kind is ErrorKind.TRANSIENT and error.retry_after is None:
            error.retry_after = _retry_after_header(self.client.last_response_headers)
        return error

    def _check_spot(self, hedge_name: str, hedge: HedgeConfig) -> None:
        market = self.client.markets.get(hedge.spot)
        if market is None or not market.get("spot"):
            raise VenueUnusable(
                f"hedges.{hedge_name}.spot: {hedge.spot} is not a spot market on {self.name}; "
                "use a unified symbol such as ETH/USDT"
            )

    def _perp_market(self, hedge_name: str, hedge: HedgeConfig) -> PerpMarket:
        market = self.client.markets.get(hedge.perp)
        if market is None:
            raise VenueUnusable(
                f"hedges.{hedge_name}.perp: {hedge.perp} is not a market on {self.name}; "
                "use a unified perpetual symbol such as ETH/USDT:USDT"
            )
        if not market.get("swap") or not (market.get("linear") or market.get("inverse")):
            raise VenueUnusable(
                f"hedges.{hedge_name}.perp: {hedge.perp} is not a linear or inverse perpetual swap "
                f"on {self.name}; use a symbol such as ETH/USDT:USDT or BTC/USD:BTC"
            )
        kind = MarketKind.LINEAR if market.get("linear") else MarketKind.INVERSE
        return PerpMarket(
            symbol=hedge.perp,
            kind=kind,
            base=market["base"],
            quote=market["quote"],
            settle=market["settle"],
            contract_size=_market_figure(market.get("contractSize") or 1, "contractSize"),
            futures_account=self.futures_account(market),
        )


FUNDING_PAGE = 1000  # Binance's income endpoints answer at most 1000 rows


def decode_funding_payment(decoder: Decoder, raw: Any, perp: str, path: str) -> FundingPayment:
    """One funding-history entry: the venue's own text where ccxt kept it (Binance's income
    row: `income`, `asset`, `time`, `tranId`), else ccxt's unified fields. An entry without
    id, amount, asset or time, or of another income type, is refused."""
    raw = decoder.mapping(raw, path)
    info = raw.get("info") if isinstance(raw.get("info"), Mapping) else {}
    if "income" in info:
        kind = info.get("incomeType")
        if kind != "FUNDING_FEE":
            raise decoder.refuse(f"{path}.info.incomeType is {kind!r}, not FUNDING_FEE")
        amount = decoder.number(info.get("income"), f"{path}.info.income")
        asset = decoder.text(info, "asset", f"{path}.info")
        timestamp = decoder.field(info, "time", f"{path}.info")
        exchange_id = transfer_id(decoder, info, "tranId", f"{path}.info")
    else:
        amount = decoder.number(raw.get("amount"), f"{path}.amount")
        asset = decoder.text(raw, "code", path)
        timestamp = decoder.field(raw, "timestamp", path)
        exchange_id = transfer_id(decoder, raw, "id", path)
    at = _from_ms(timestamp)
    if at is None:
        raise decoder.refuse(f"{path}: time {timestamp!r} is not a time in ms")
    return FundingPayment(exchange_id=exchange_id, symbol=perp, asset=asset, amount=amount, at=at)


def transfer_id(decoder: Decoder, answer: Mapping[str, Any], key: str, path: str) -> str:
    """A venue's transfer id: a positive integer or a non-empty name, never null or empty."""
    value = decoder.field(answer, key, path)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise decoder.refuse(f"{path}.{key} is {value!r}, not a transfer id")
    text = str(value).strip()
    if not text or (isinstance(value, int) and value <= 0):
        raise decoder.refuse(f"{path}.{key} is {value!r}, not a transfer id")
    return text


def unknown_reply(problem: Untrusted) -> VenueError:
    """A transfer reply the bot cannot read: the request was sent, so the outcome is unknown."""
    return VenueError(
        ErrorKind.UNKNOWN,
        problem.venue,
        f"{problem.detail}; the transfer may have been applied",
        hint="reconciling before anything else",
    )


def _endpoint_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def decode_leverage_tiers(
    venue: str, raw: Any, symbols: list[str]
) -> dict[str, tuple[LeverageTier, ...]]:
    """ccxt's leverage tiers -> (floor, maintenance rate) per tier, with Binance's maintenance
    amount derived from them (`LeverageTier.ladder`); a symbol missing or malformed refuses
    the read."""
    decoder = Decoder(venue, "fetch_leverage_tiers")
    answer = decoder.mapping(raw)
    result = {}
    for symbol in symbols:
        rows = decoder.sequence(answer.get(symbol), symbol, allow_empty=False)
        pairs = []
        for index, row in enumerate(rows):
            path = f"{symbol}[{index}]"
            row = decoder.mapping(row, path)
            floor = decoder.decimal(row, "minNotional", path, sign=Sign.NON_NEGATIVE)
            rate = decoder.decimal(row, "maintenanceMarginRate", path, sign=Sign.NON_NEGATIVE)
            pairs.append((floor, rate))
        result[symbol] = LeverageTier.ladder(pairs)
    return result


def _market_figure(value: Any, field: str) -> Decimal:
    """A market's static figure (contract size): ccxt parses markets with `float` before the
    client's `number = str` applies, so a float here is read by its shortest repr. It is never a
    balance; sizes such as 1, 0.001 or 100 are exact in it."""
    return to_decimal(repr(value) if isinstance(value, float) else value, field)


def _from_ms(value: Any) -> datetime | None:
    """A venue's millisecond timestamp, or None when it is absent or not a plausible time."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**14:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def _offset_ms(server: int | str, before: float, after: float) -> int:
    """The server's clock (ms) minus ours at the midpoint of the round trip that told it."""
    return int(int(server) - (before + after) * 500)


def _retry_after_header(headers: Mapping[str, Any] | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None
