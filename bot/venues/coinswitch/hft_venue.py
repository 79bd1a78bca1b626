"""CoinSwitch PRO through its HFT API (`surface: hft` in the venue's config): the HFT trading
account holds the shorts' collateral, and the bot moves it to and from the CoinSwitch wallet
(the spot portfolio) itself, through Transfer Funds, instead of printing a manual instruction.

- Balances and positions of the HFT account: `hft.py` (the `hft` account). The CoinSwitch
  wallet is the spot portfolio, as in the Futures mode: Transfer Funds draws on it
  ("CoinSwitch wallet"). Markets and funding rates are still the Futures v2 API's.
- Transfers: Transfer Funds with our own `client_txn_id` (the intent's client id, committed
  before the call and re-sent unchanged while the outcome is unknown). A refused repeat of it
  (`DuplicateClientTxnId`) is proof that the first applied: the row is confirmed.
- No HFT endpoint lists or looks up past transfers, so a lost answer is settled by sending the
  same transfer again with the same id (`bot.transfers.reconcile`), never a new id.
- The settlement-currency lock: the first transfer locks the account to USDT or INR. At
  connect the account's coins tell whether it is locked and to which; a hedge whose perpetual
  settles in the other currency is refused in one line, and so is any transfer in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from bot.config import HedgeConfig
from bot.errors import ErrorKind, VenueError, VenueUnusable
from bot.model import SPOT, Position, VenueState, VenueTransfer, Wallet
from bot.money import plain
from bot.venues.base import ClientIdSupport, TransferReceipt, VenueTraits
from bot.venues.coinswitch import hft
from bot.venues.coinswitch.exchange import TRANSFER_DIRECTIONS, DuplicateClientTxnId
from bot.venues.coinswitch.venue import CoinSwitchVenue
from bot.venues.decode import Decoder, Untrusted
from bot.venues.generic import CcxtVenue, unknown_reply

#: ccxt's account names and the CoinSwitch wallet's, mapped to the bot's names in HFT mode
HFT_ALIASES: Mapping[str, str] = {
    "main": SPOT,
    "wallet": SPOT,
    "swap": hft.HFT,
    "future": hft.HFT,
    "futures": hft.HFT,
    "linear": hft.HFT,
}


class CoinSwitchHftVenue(CoinSwitchVenue):
    """CoinSwitch PRO's HFT account ('hft') and the CoinSwitch wallet ('spot'), with automated
    transfers between them (Transfer Funds, our `client_txn_id`)."""

    exchange_ids = ()  # chosen by `CoinSwitchVenue.for_options` for `surface: hft`
    traits = VenueTraits(
        client_ids=ClientIdSupport(param="client_txn_id", uuid_format=True, dedupes=True),
        account_aliases=HFT_ALIASES,
        dry_run_rest_reads=CoinSwitchVenue.traits.dry_run_rest_reads,
    )
    surface: ClassVar[str] = hft.HFT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the settlement currency the HFT account is locked to (None: not funded yet)
        self.locked_settlement: str | None = None

    @classmethod
    def ccxt_options(cls, hedges: Mapping[str, HedgeConfig]) -> dict[str, Any]:
        return {"surface": hft.HFT}

    async def connect(self) -> None:
        """Markets as in the Futures mode, then the settlement lock from the HFT account's
        coins: a hedge settling in the other currency is refused in one line."""
        await super().connect()
        self.locked_settlement = await self.read_settlement_lock()
        locked = self.locked_settlement
        self.account_mode = (
            f"HFT: Transfer Funds automated, settlement locked to {locked}"
            if locked
            else "HFT: Transfer Funds automated, not funded yet (its first transfer locks it)"
        )
        for hedge_name, hedge in sorted(self.hedges.items()):
            settle = self._perps[hedge.perp].settle
            refusal = hft.settlement_refusal(locked, settle)
            if refusal is not None:
                raise VenueUnusable(
                    f"hedges.{hedge_name}: {hedge.perp} settles in {settle}, but {refusal}"
                )

    async def read_settlement_lock(self) -> str | None:
        wallets = await self.read_wallets(hft.HFT)
        try:
            return hft.locked_settlement(wallets)
        except ValueError as exc:
            raise Untrusted(self.name, hft.WALLET_BALANCE, str(exc)) from None

    # accounts ---------------------------------------------------------------------------------

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return hft.HFT

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        if self.normalize_account(account) == hft.HFT:
            decoder = Decoder(self.name, hft.WALLET_BALANCE)
            return hft.hft_wallets(decoder, balance.get("info"))
        return super().parse_wallets(account, balance)

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        if not symbols:
            return []
        raw = await self.call(self.client.fetch_positions, symbols)
        by_id = {
            self.client.market(symbol)["id"].upper(): self._perps[symbol] for symbol in symbols
        }
        decoder = Decoder(self.name, hft.POSITION_LIST)
        return hft.hft_positions(decoder, (r.get("info") for r in raw), by_id)

    async def read_state(self) -> VenueState:
        """The HFT account reports its own unrealized PnL (no estimate from the positions);
        each read also refreshes what the account is locked to (`bot run` lives long)."""
        state = await CcxtVenue.read_state(self)
        wallets = [w for (account, _), w in state.wallets.items() if account == hft.HFT]
        try:
            self.locked_settlement = hft.locked_settlement(wallets) or self.locked_settlement
        except ValueError as exc:
            raise Untrusted(self.name, hft.WALLET_BALANCE, str(exc)) from None
        return state

    # transfers --------------------------------------------------------------------------------

    @property
    def can_transfer(self) -> bool:
        return True

    @property
    def can_fetch_transfers(self) -> bool:
        return False  # no HFT endpoint lists or looks up past transfers

    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """Transfer Funds with our client id as `client_txn_id`; only an answer echoing what
        was sent confirms, and a refused repeat of the id confirms the first send."""
        source, target = self.normalize_account(from_account), self.normalize_account(to_account)
        direction = TRANSFER_DIRECTIONS.get((source, target))
        if direction is None:
            raise VenueError(
                ErrorKind.FATAL,
                self.name,
                f"Transfer Funds moves between spot and hft only, not {source} -> {target}",
            )
        refusal = hft.settlement_refusal(self.locked_settlement, asset)
        if refusal is not None:
            raise VenueError(ErrorKind.FATAL, self.name, f"not sent: {refusal}")
        txn_id = str(uuid.UUID(hex=client_id))

        async def post() -> Any:
            try:
                return await self.client.transfer(
                    asset, plain(amount), source, target, {"client_txn_id": txn_id}
                )
            except DuplicateClientTxnId:
                return None

        answer = await self.send(hft.TRANSFER_PATH, post)
        if answer is None:  # the repeat was refused: the first send with this id applied
            self.locked_settlement = self.locked_settlement or asset
            return TransferReceipt(exchange_id=None, status="ok", raw={"client_txn_id": txn_id})
        decoder = Decoder(self.name, hft.TRANSFER_FUNDS)
        try:
            exchange_id = hft.transfer_reply(
                decoder, answer.get("info"), client_txn_id=txn_id, direction=direction,
                amount=amount,
            )  # fmt: skip
        except Untrusted as exc:
            raise unknown_reply(exc) from None
        self.locked_settlement = self.locked_settlement or asset
        return TransferReceipt(exchange_id=exchange_id, status="ok", raw={"txn_id": exchange_id})

    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: Any
    ) -> list[VenueTransfer]:
        raise VenueError(
            ErrorKind.FATAL,
            self.name,
            "CoinSwitch PRO's HFT API lists no past transfers; each transfer is proven by its "
            "client_txn_id instead (a re-send is refused as a duplicate once it applied)",
        )
