"""Hyperliquid: the spot wallet and the perp wallet are apart (ccxt's `spot` and `swap`), and
USDC moves between them with `usdClassTransfer` (ccxt `transfer('USDC', amount, 'spot',
'swap')`), signed by the wallet's own key.

- Keys: the wallet's private key and address (`private_key_env`, `wallet_address_env`), from
  the environment only. An API "agent" wallet signs orders for the wallet but never a
  transfer: at connect the key's address is compared with the wallet's, and a key of another
  address refuses the venue's hedges in one line.
- The account's mode (`userAbstraction`) is read at connect: in `unifiedAccount` or
  `portfolioMargin` mode spot and perps are one balance, which this venue does not model; its
  hedges are refused in one line.
- Reads go to `/info` through ccxt's implicit `publicPostInfo` and are decoded from
  Hyperliquid's own strings (`answers.py`): what may leave the perp wallet is `withdrawable`.
- ccxt's client, once it has a key, would send `approveBuilderFee` and `setReferrer` actions
  from `load_markets`; the options in `ccxt_options` stop both (and its `userAbstraction`
  probe, which the bot makes itself), so `usdClassTransfer` is the one action the bot sends.
- The transfer takes no client id and its answer carries no id: its proof is the
  `accountClassTransfer` entry of `userNonFundingLedgerUpdates` (its hash is the transfer's
  id), found right after the answer or by reconciliation (exact, tagged amount, direction,
  after the intent on the venue's clock, never an entry another row holds).
- USDC moves in 6 decimals on the perp side (the fake refuses more, as `subAccountTransfer`'s
  `usd` and `withdraw3` count micro-USDC); ccxt's currency precision (spotMeta weiDecimals 8)
  is finer, so the step is 0.000001.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final, Protocol, TypeVar

import ccxt.async_support as ccxt_async

from bot.config import HedgeConfig
from bot.errors import ErrorKind, VenueError
from bot.model import SPOT, Funding, Position, VenueState, VenueTransfer, Wallet
from bot.money import plain
from bot.venues.base import FundingPayment, TransferReceipt, VenueTraits
from bot.venues.decode import Decoder, Sign, Untrusted
from bot.venues.errors import http_body_of
from bot.venues.generic import MAX_HISTORY_PAGES, CcxtVenue, unknown_reply
from bot.venues.hyperliquid import answers
from bot.venues.hyperliquid.answers import SWAP, USDC
from bot.venues.hyperliquid.wallet_key import address_of, same_address

log = logging.getLogger(__name__)

#: USDC's step on the perp side (6 decimals)
TRANSFER_STEP: Final = Decimal("0.000001")
#: the most updates one `userNonFundingLedgerUpdates` answer holds (Hyperliquid's info
#: endpoint: "responses ... return at most 500 elements"); the next page starts at the last
#: update's time
LEDGER_PAGE: Final = 500
#: how long before the send (venue clock) a transfer's ledger entry may be stamped: the nonce
#: and the block time are both the venue's, the offset measured once is not exact
PROOF_SLACK: Final = timedelta(seconds=2)

AGENT_WALLET = (
    "the private key signs for another address than the wallet address (an API agent wallet, "
    "which Hyperliquid lets sign orders but never usdClassTransfer): put the wallet's own "
    "private key in the variable named by private_key_env"
)


class HyperliquidVenue(CcxtVenue):
    exchange_ids = ("hyperliquid",)
    traits = VenueTraits(
        account_aliases={"main": SPOT, "perp": SWAP, "future": SWAP, "futures": SWAP},
        # every /info request is a read (POST by design); /exchange is the one that acts
        dry_run_rest_reads=frozenset({("POST", "public/info")}),
    )

    #: the most updates one ledger answer holds: a shorter page is the last
    ledger_page: ClassVar[int] = LEDGER_PAGE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[str, Decimal] = {}  # coin -> margin used, from the last perp read
        #: the one `clearinghouseState` read of a `read_state` (wallet and positions alike)
        self._perp_read: asyncio.Future[answers.PerpAccount] | None = None
        self._sharing = False

    @classmethod
    def ccxt_options(cls, hedges: Mapping[str, HedgeConfig]) -> dict[str, Any]:
        """Spot and the USDC perps only (no HIP-3 dexes), and none of the actions ccxt sends
        by itself once it holds a key: `approvedBuilderFee` and `refSet` say they are done, so
        `approveBuilderFee` and `setReferrer` are never signed; `enableUnifiedMargin` false
        skips ccxt's own `userAbstraction` probe (connect reads the mode itself)."""
        return {
            "fetchMarkets": {"types": ["spot", "swap"]},
            "approvedBuilderFee": True,
            "refSet": True,
            "builderFee": False,
            "enableUnifiedMargin": False,
        }

    @property
    def user(self) -> str:
        return str(self.client.walletAddress or "")

    # lifecycle ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Markets, then what a hedge here needs: the wallet's own key (an agent wallet cannot
        sign a transfer) and wallets that are apart (not a unified or portfolio account)."""
        await super().connect()
        if not self.hedges:
            return
        signer = address_of(str(self.client.privateKey or ""))
        if signer is None or not same_address(signer, self.user):
            raise self.hedges_refused(AGENT_WALLET)
        raw = await self.call(
            self.client.publicPostInfo, {"type": "userAbstraction", "user": self.user}
        )
        mode = answers.abstraction(Decoder(self.name, answers.ABSTRACTION), raw)
        self.account_mode = mode
        if mode in answers.UNIFIED_MODES:
            raise self.hedges_refused(
                f"the account runs Hyperliquid's {mode} mode (userAbstraction), where spot and "
                "perps share one balance and the bot's spot/perp transfers mean nothing; set "
                "the account's abstraction back to default, or move these hedges elsewhere"
            )

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return SWAP

    @property
    def can_fetch_transfers(self) -> bool:
        """Transfers are listed by `userNonFundingLedgerUpdates` (not ccxt's fetchTransfers)."""
        return True

    def transfer_step(self, asset: str) -> Decimal:
        return max(super().transfer_step(asset), TRANSFER_STEP)

    # reading --------------------------------------------------------------------------------

    async def read_wallets(self, account: str) -> list[Wallet]:
        account = self.normalize_account(account)
        if account == SPOT:
            raw = await self.call(
                self.client.publicPostInfo, {"type": "spotClearinghouseState", "user": self.user}
            )
            self.sources[SPOT] = "rest"
            codes = self.client.options.get("spotCurrencyMapping") or {}
            return answers.spot_wallets(
                Decoder(self.name, answers.SPOT_CLEARINGHOUSE), raw, dict(codes)
            )
        if account == SWAP:
            perp = await self._perp_account()
            self.sources[SWAP] = "rest"
            return [perp.wallet]
        raise VenueError(
            ErrorKind.FATAL,
            self.name,
            f"no Hyperliquid wallet named {account!r} (wallets: spot, swap)",
        )

    async def read_state(self) -> VenueState:
        """One read of the venue; the perp wallet and the positions come from one
        `clearinghouseState` answer, so the pool's equity and its short are of one moment."""
        self._perp_read, self._sharing = None, True
        try:
            return await super().read_state()
        finally:
            self._perp_read, self._sharing = None, False

    async def _perp_account(self) -> answers.PerpAccount:
        """The perp account: within `read_state`, its one shared read; else a fresh one (a
        transfer's sizing reads `withdrawable` anew)."""
        if not self._sharing:
            return await self._read_perp_account()
        if self._perp_read is None:
            self._perp_read = asyncio.ensure_future(self._read_perp_account())
        return await self._perp_read

    async def _read_perp_account(self) -> answers.PerpAccount:
        raw = await self.call(
            self.client.publicPostInfo, {"type": "clearinghouseState", "user": self.user}
        )
        markets = {}
        for symbol, market in self._perps.items():
            unified = self.client.markets[symbol]
            info = unified.get("info") or {}
            limit = info.get("maxLeverage")  # meta's universe entry, as Hyperliquid wrote it
            markets[str(unified.get("baseName"))] = answers.PerpMarket(
                symbol=symbol,
                contract_size=market.contract_size,
                max_leverage=limit if isinstance(limit, int) and limit > 0 else None,
            )
        perp = answers.perp_account(Decoder(self.name, answers.CLEARINGHOUSE), raw, markets)
        self._held = perp.held
        return perp

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        """The hedged perps' positions from `clearinghouseState`; "flat" only where the account
        holds no margin for the coin either."""
        if not symbols:
            return []
        perp = await self._perp_account()
        found = [p for p in perp.positions.values() if p.symbol in symbols]
        for symbol in symbols:
            coin = str(self.client.markets[symbol].get("baseName"))
            if coin not in perp.positions and perp.held.get(coin):
                raise Untrusted(
                    self.name,
                    answers.CLEARINGHOUSE,
                    f"no open position in {coin}, but {plain(perp.held[coin])} USDC of margin "
                    "is used for it; the figures disagree",
                )
        return found

    async def read_funding(self, symbol: str) -> Funding:
        """The hourly rate and mark from the perp's context (`metaAndAssetCtxs`: `funding`,
        `markPx`), as Hyperliquid wrote them; the next payment is on the next whole hour."""
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        decoder = Decoder(self.name, "POST /info metaAndAssetCtxs")
        info = decoder.mapping(decoder.mapping(raw).get("info"), f"{symbol} info")
        now = datetime.now(UTC)
        return Funding(
            symbol=symbol,
            rate=decoder.decimal(info, "funding", symbol),
            mark_price=decoder.decimal(info, "markPx", symbol, sign=Sign.POSITIVE),
            next_funding_at=now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1),
        )

    async def funding_payments(self, since: datetime) -> list[FundingPayment]:
        """The hedged perpetuals' hourly payments since `since` (`userFunding`), every page:
        after a full page the next starts at its last entry's time (the same millisecond
        again: repeats are known by id), as the ledger updates are read."""
        # the coin as Hyperliquid names it (ccxt's baseName), as positions are read
        perps = {
            str(self.client.markets[h.perp].get("baseName")): h.perp
            for h in self.hedges.values()
            if h.perp in self._perps
        }
        if not perps:
            return []
        decoder = Decoder(self.name, answers.USER_FUNDING)
        pages = await self._pages(
            "userFunding", since, decoder, lambda raw: answers.funding_page(decoder, raw, perps)
        )
        found = {p.exchange_id: p for page in pages for p in page.payments}
        return sorted(found.values(), key=lambda p: (p.at, p.exchange_id))

    async def _pages(
        self, kind: str, since: datetime, decoder: Decoder, decode: Callable[[Any], PageT]
    ) -> list[PageT]:
        """Every page of the user's `kind` updates from `since` (the venue's clock): after a
        full page (`ledger_page` entries) the next starts at its last entry's time (the same
        millisecond again, so none is skipped; the caller drops repeats by id). A full page
        that cannot move on (a server ignoring startTime) and more than MAX_HISTORY_PAGES are
        errors; a page that cannot be read is never taken as an empty history."""
        start = int(since.timestamp() * 1000)
        pages = []
        for _ in range(MAX_HISTORY_PAGES):
            request = {"type": kind, "user": self.user, "startTime": start}
            page = decode(await self.call(self.client.publicPostInfo, request))
            pages.append(page)
            if page.rows < self.ledger_page or page.last_time is None:
                return pages  # the last page
            if page.last_time <= start:
                raise decoder.refuse(
                    f"a full page of {page.rows} entries, all at startTime {start}: the bot "
                    "cannot page past them"
                )
            start = page.last_time
        raise decoder.refuse(
            f"more than {MAX_HISTORY_PAGES} pages of {kind} since {since.isoformat()}; stopped "
            "rather than risk the venue's rate limit"
        )

    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """`usdClassTransfer` through ccxt's `transfer()`; a refusal is classified from its
        text, an `ok` is confirmed only by its ledger entry (the answer carries no id)."""
        source, target = self.normalize_account(from_account), self.normalize_account(to_account)
        if asset != USDC or {source, target} != {SPOT, SWAP}:
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"Hyperliquid moves USDC between spot and swap only, not {asset} "
                f"{from_account} -> {to_account}",
            )
        offset = await self.clock_offset_ms() or 0
        sent_at = datetime.fromtimestamp((time.time() * 1000 + offset) / 1000, UTC)

        async def post() -> Any:
            try:
                return await self.client.transfer(USDC, plain(amount), source, target)
            except ccxt_async.ExchangeError as exc:
                refusal = _refusal_text(exc)
                if refusal is None:
                    raise
                raise self._refused(refusal) from None

        raw = await self.send(answers.EXCHANGE, post)
        decoder = Decoder(self.name, answers.EXCHANGE)
        try:
            answers.transfer_accepted(decoder, decoder.mapping(raw).get("info"))
        except Untrusted as exc:
            raise unknown_reply(exc) from None
        return await self._proof(amount, source, target, sent_at)

    async def _proof(
        self, amount: Decimal, source: str, target: str, sent_at: datetime
    ) -> TransferReceipt:
        """The ledger entry of the transfer just accepted: the one of this amount and direction
        since the send. None or several: the outcome stays unknown for reconciliation."""
        since = sent_at - PROOF_SLACK
        try:
            history = await self.fetch_transfer_history(USDC, source, target, since)
        except VenueError as exc:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"usdClassTransfer was accepted, and its ledger entry cannot be read: {exc}",
                hint="reconciling before anything else",
            ) from None
        found = [e for e in history if e.amount == amount and e.at is not None and e.at >= since]
        if len(found) != 1:
            raise VenueError(
                ErrorKind.UNKNOWN,
                self.name,
                f"usdClassTransfer of {plain(amount)} USDC was accepted, and the ledger lists "
                f"{len(found)} entries that fit it",
                hint="reconciling before anything else",
            )
        return TransferReceipt(
            exchange_id=found[0].exchange_id, status="ok", raw={"hash": found[0].exchange_id}
        )

    def _refused(self, text: str) -> VenueError:
        """Hyperliquid's `{"status": "err"}` answer to a transfer: nothing moved."""
        shown = text[:200]
        if "insufficient" in text.lower():
            return VenueError(ErrorKind.INSUFFICIENT, self.name, f"usdClassTransfer: {shown}")
        if "does not exist" in text:
            return VenueError(
                ErrorKind.FATAL,
                self.name,
                f"usdClassTransfer: {shown}",
                hint=AGENT_WALLET,
            )
        if "nonce" in text.lower():
            # refused for its nonce, so not applied: a new send signs a new, larger nonce
            return VenueError(ErrorKind.TRANSIENT, self.name, f"usdClassTransfer: {shown}")
        return VenueError(
            ErrorKind.FATAL,
            self.name,
            f"usdClassTransfer refused: {shown}",
            hint="see the text; then bot venue resume",
        )

    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: datetime
    ) -> list[VenueTransfer]:
        """The `accountClassTransfer` entries of `userNonFundingLedgerUpdates` from `since`
        (every page: `_pages`) between these two wallets, oldest first."""
        source, target = self.normalize_account(from_account), self.normalize_account(to_account)
        decoder = Decoder(self.name, answers.LEDGER_UPDATES)
        pages = await self._pages(
            "userNonFundingLedgerUpdates",
            since,
            decoder,
            lambda raw: answers.ledger_page(decoder, raw),
        )
        found = {e.exchange_id: e for page in pages for e in page.entries}
        return sorted(
            (
                e
                for e in found.values()
                if e.asset == asset and e.from_account == source and e.to_account == target
            ),
            key=lambda e: (e.at or since, e.exchange_id),
        )


class _Page(Protocol):
    @property
    def rows(self) -> int: ...

    @property
    def last_time(self) -> int | None: ...


PageT = TypeVar("PageT", bound=_Page)


def _refusal_text(exc: BaseException) -> str | None:
    """The text of Hyperliquid's `{"status": "err", "response": ...}` behind a ccxt error."""
    body = http_body_of(exc)
    if body is None:
        _, _, body = str(exc).partition(" ")
    try:
        answer = json.loads(body)
    except (TypeError, ValueError):
        return None
    return answers.transfer_refusal(answer)
