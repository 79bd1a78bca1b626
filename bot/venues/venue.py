"""One venue behind one interface: read its state, read what is transferable, transfer.

`Venue` speaks unified ccxt and fits any exchange that has spot, perpetuals and `transfer()`.
Subclasses (`BinanceVenue`...) handle what a family does differently: account names, which raw
field is really transferable, how a wallet's balance is split. The policy, the executor and the
ledger only ever see this interface and the `bot.model` values it returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async
from ccxt.base.decimal_to_precision import TICK_SIZE

from bot.aio import gather_or_cancel
from bot.config import HedgeConfig
from bot.errors import VenueUnusable
from bot.model import (
    SPOT,
    Funding,
    MarketKind,
    PerpMarket,
    Position,
    VenueState,
    VenueTransfer,
    Wallet,
)
from bot.money import (
    DEFAULT_TRANSFER_STEP,
    ZERO,
    plain,
    step_from_precision,
    to_decimal,
    to_decimal_or_none,
)
from bot.retry import RetryPolicy, Timing, retry_read
from bot.venues.errors import ErrorKind, VenueError, classify

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class ClientIdSupport:
    """Where a venue takes our transfer id, in which form, and whether it refuses a repeat."""

    param: str
    uuid_format: bool = False  # Bybit wants a UUID with hyphens; OKX 1-32 alphanumerics
    dedupes: bool = False  # a re-send with the same id cannot transfer twice


# ccxt makes a fresh uuid per call for Bybit and KuCoin unless given one, which would turn any
# re-send into a second transfer; so the bot always passes its own, generated before the call.
CLIENT_IDS: Mapping[str, ClientIdSupport] = {
    "bybit": ClientIdSupport(param="transferId", uuid_format=True, dedupes=True),
    "okx": ClientIdSupport(param="clientId"),
    "bitget": ClientIdSupport(param="clientOid", dedupes=True),
    "kucoin": ClientIdSupport(param="clientOid"),
    "kucoinfutures": ClientIdSupport(param="clientOid"),
}

HISTORY_PAGE = 100


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    exchange_id: str
    balances: bool
    positions: bool
    funding: bool
    transfer: bool
    transfer_history: bool
    client_ids: str | None
    websocket_balance: bool
    shared_collateral: bool
    swap_markets: int
    accounts: tuple[str, ...]


def hedge_refusal(caps: Capabilities) -> str | None:
    """Why a venue cannot carry a hedge, or None. Pure.

    Moving money by hand is allowed (no transfer API: plans are recorded as manual), but
    sending transfers that could never be settled is not.
    """
    if not caps.balances:
        return f"{caps.exchange_id} cannot read balances (fetchBalance); it cannot carry a hedge"
    if not caps.positions:
        return (
            f"{caps.exchange_id} cannot read positions (fetchPositions), so the short's notional "
            "is unknown; it cannot carry a hedge"
        )
    if caps.swap_markets == 0:
        return f"{caps.exchange_id} lists no perpetual swap markets; it cannot carry a hedge"
    if caps.transfer and not caps.transfer_history and not caps.shared_collateral:
        return (
            f"{caps.exchange_id} can transfer but cannot list past transfers (fetchTransfers), so "
            "a transfer whose answer is lost could never be settled; use another venue"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class TransferReceipt:
    """What the venue answered to a transfer; amount and accounts come from our request."""

    exchange_id: str | None
    status: str | None
    raw: Mapping[str, Any]


class Venue:
    """A configured venue: a ccxt client plus the hedges that live on it."""

    #: account-name aliases accepted in config and from ccxt, mapped to this venue's names
    account_aliases: Mapping[str, str] = {"main": SPOT}
    #: True where spot and perpetuals share one collateral pool (unified margin)
    shared_collateral: bool = False

    def __init__(
        self,
        name: str,
        client: ccxt_async.Exchange,
        hedges: Mapping[str, HedgeConfig],
        *,
        policy: RetryPolicy | None = None,
        timing: Timing | None = None,
        ws_client: ccxt_async.Exchange | None = None,
    ):
        self.name = name
        self.client = client
        self.ws_client = ws_client  # a ccxt.pro client, where this venue reads over WebSocket
        self.sources: dict[str, str] = {}  # account -> how it was last read (rest, websocket)
        self.hedges = dict(hedges)
        self.policy = policy or RetryPolicy()
        self.timing = timing or Timing()
        self._perps: dict[str, PerpMarket] = {}

    # lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Load markets and check that the venue and every hedge's markets are what it needs."""
        await self.call(self.client.load_markets)
        if self.hedges:
            refusal = hedge_refusal(self.capabilities())
            if refusal is not None:
                names = ", ".join(sorted(self.hedges))
                raise VenueUnusable(f"venues.{self.name}: {refusal} (hedges: {names})")
        for hedge_name, hedge in self.hedges.items():
            self._check_spot(hedge_name, hedge)
            self._perps[hedge.perp] = self._perp_market(hedge_name, hedge)
            self._check_accounts(hedge_name, self._perps[hedge.perp])

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
        )

    async def close(self) -> None:
        await self.client.close()
        if self.ws_client is not None:
            await self.ws_client.close()

    # capabilities ---------------------------------------------------------------------------

    @property
    def can_transfer(self) -> bool:
        return bool(self.client.has.get("transfer"))

    @property
    def can_fetch_transfers(self) -> bool:
        return bool(self.client.has.get("fetchTransfers"))

    @property
    def client_ids(self) -> ClientIdSupport | None:
        return CLIENT_IDS.get(self.client.id)

    @property
    def spot_account(self) -> str:
        """The account that holds the spot leg (and spot collateral)."""
        return SPOT

    def normalize_account(self, account: str) -> str:
        return self.account_aliases.get(account, account)

    def futures_account(self, market: Mapping[str, Any]) -> str:
        """The account that margins `market` (ccxt's generic name for derivatives)."""
        return "swap"

    def transfer_step(self, asset: str) -> Decimal:
        """The smallest unit a transfer of `asset` may be expressed in."""
        currency = self.client.currencies.get(asset) if self.client.currencies else None
        step = None
        if currency is not None:
            step = step_from_precision(
                currency.get("precision"),
                tick_size=self.client.precisionMode == TICK_SIZE,
            )
        return step or DEFAULT_TRANSFER_STEP

    # reading --------------------------------------------------------------------------------

    async def read_state(self) -> VenueState:
        """Wallets of every account the hedges use, positions, funding: read concurrently."""
        accounts = sorted({self.spot_account, *(m.futures_account for m in self._perps.values())})
        symbols = sorted(self._perps)
        wallet_lists, positions, funding = await gather_or_cancel(
            gather_or_cancel(*(self.read_wallets(account) for account in accounts)),
            self.read_positions(symbols),
            gather_or_cancel(*(self.read_funding(symbol) for symbol in symbols)),
        )
        wallets = {(w.account, w.asset): w for ws in wallet_lists for w in ws}
        assets = {m.settle for m in self._perps.values()}
        return VenueState(
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
        """Unified ccxt balance -> wallets; `free` is taken as transferable."""
        wallets = []
        for asset, entry in balance.items():
            if not isinstance(entry, dict) or asset in {"info", "free", "used", "total"}:
                continue
            free = to_decimal_or_none(entry.get("free")) or ZERO
            used = to_decimal_or_none(entry.get("used")) or ZERO
            total = to_decimal_or_none(entry.get("total"))
            wallets.append(
                Wallet(
                    account=account,
                    asset=asset,
                    free=free,
                    used=used,
                    balance=total if total is not None else free + used,
                    transferable=free,
                )
            )
        return wallets

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        if not symbols:
            return []
        raw = await self.call(self.client.fetch_positions, symbols)
        return [
            p
            for p in (self.parse_position(r) for r in raw)
            if p is not None and p.symbol in symbols
        ]

    def parse_position(self, raw: Mapping[str, Any]) -> Position | None:
        symbol = raw.get("symbol")
        market = self._perps.get(symbol) if symbol else None
        contracts = abs(to_decimal_or_none(raw.get("contracts"), "contracts") or ZERO)
        if market is None or contracts == 0:
            return None
        contract_size = to_decimal_or_none(raw.get("contractSize")) or market.contract_size
        mark = to_decimal_or_none(raw.get("markPrice"), "markPrice")
        notional = to_decimal_or_none(raw.get("notional"), "notional")
        if notional is None:
            if mark is None or mark == 0:
                raise VenueError(
                    ErrorKind.FATAL,
                    self.name,
                    f"position {symbol} has neither notional nor mark price",
                )
            size = contracts * contract_size
            notional = size * mark if market.kind is MarketKind.LINEAR else size / mark
        return Position(
            symbol=market.symbol,
            side=str(raw.get("side") or "short"),
            contracts=contracts,
            contract_size=contract_size,
            notional=abs(notional),
            entry_price=to_decimal_or_none(raw.get("entryPrice")),
            mark_price=mark,
            unrealized_pnl=to_decimal_or_none(raw.get("unrealizedPnl")) or ZERO,
            initial_margin=to_decimal_or_none(raw.get("initialMargin")),
            maintenance_margin=to_decimal_or_none(raw.get("maintenanceMargin")),
            liquidation_price=to_decimal_or_none(raw.get("liquidationPrice")),
        )

    async def read_funding(self, symbol: str) -> Funding:
        if not self.client.has.get("fetchFundingRate"):
            return Funding(symbol=symbol, rate=None, mark_price=None)
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        next_ms = raw.get("nextFundingTimestamp") or raw.get("fundingTimestamp")
        return Funding(
            symbol=symbol,
            rate=to_decimal_or_none(raw.get("fundingRate"), "fundingRate"),
            mark_price=to_decimal_or_none(raw.get("markPrice"), "markPrice"),
            next_funding_at=datetime.fromtimestamp(next_ms / 1000, UTC) if next_ms else None,
        )

    # moving money ---------------------------------------------------------------------------

    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """Send one transfer. The amount must already be rounded down to `transfer_step`.

        Raises `VenueError` (classified as a state-changing call) or `DryRunRefused`.
        """
        params = self.transfer_params(client_id)
        try:
            raw = await self.client.transfer(asset, plain(amount), from_account, to_account, params)
        except ccxt_async.BaseError as exc:
            raise self._classify(exc, state_changing=True) from None
        except (TimeoutError, OSError) as exc:
            raise self._classify(exc, state_changing=True) from None
        exchange_id = raw.get("id")
        return TransferReceipt(
            exchange_id=str(exchange_id) if exchange_id is not None else None,
            status=raw.get("status"),
            raw=raw.get("info") or {},
        )

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
        """The venue's own record of transfers in one direction since `since`, every page."""
        since_ms = int(since.timestamp() * 1000)
        params = self.history_params(from_account, to_account)
        found: list[VenueTransfer] = []
        while True:
            page = await self.call(
                self.client.fetch_transfers, asset, since_ms, HISTORY_PAGE, params
            )
            found += [self.parse_history_entry(raw) for raw in page]
            if len(page) < HISTORY_PAGE:
                return found
            params = self.next_history_page(params, page)

    def history_params(self, from_account: str, to_account: str) -> dict[str, Any]:
        return {"fromAccount": from_account, "toAccount": to_account}

    def next_history_page(self, params: dict[str, Any], page: list[Any]) -> dict[str, Any]:
        raise VenueError(
            ErrorKind.FATAL, self.name, "transfer history has more than one page; narrow the window"
        )

    def parse_history_entry(self, raw: Mapping[str, Any]) -> VenueTransfer:
        info = raw.get("info") or {}
        support = self.client_ids
        client_id = info.get(support.param) if support is not None else None
        amount = info.get("amount", raw.get("amount"))
        timestamp = raw.get("timestamp")
        return VenueTransfer(
            exchange_id=str(raw.get("id")),
            client_id=str(client_id).replace("-", "") if client_id else None,
            asset=str(raw.get("currency")),
            amount=to_decimal(amount, "amount"),
            from_account=raw.get("fromAccount"),
            to_account=raw.get("toAccount"),
            at=datetime.fromtimestamp(timestamp / 1000, UTC) if timestamp else None,
            status=raw.get("status"),
        )

    async def resync_clock(self) -> None:
        """Measure the venue's clock again after it said our timestamp was off."""
        try:
            await self.client.load_time_difference()
        except ccxt_async.BaseError as exc:
            raise self._classify(exc, state_changing=False) from None

    # helpers --------------------------------------------------------------------------------

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a read against the venue, retrying what is transient; any failure that remains
        becomes a classified `VenueError`."""

        async def once() -> T:
            try:
                return await fn(*args)
            except ccxt_async.BaseError as exc:
                raise self._classify(exc, state_changing=False) from None
            except (TimeoutError, OSError) as exc:
                raise self._classify(exc, state_changing=False) from None

        return await retry_read(once, self.policy, self.timing, on_clock_error=self.resync_clock)

    def _classify(self, exc: BaseException, *, state_changing: bool) -> VenueError:
        error = classify(exc, venue=self.name, state_changing=state_changing)
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
            contract_size=to_decimal(market.get("contractSize") or 1, "contractSize"),
            futures_account=self.futures_account(market),
        )


def _retry_after_header(headers: Mapping[str, Any] | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None
