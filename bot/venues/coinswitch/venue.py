"""The bot's venue for CoinSwitch PRO: `CoinSwitchVenue` reads the `coinswitch` ccxt exchange
into `bot.model` values.

What the generic `Venue` gets wrong here:
- Every figure (balances, transferable, positions, the funding rate and mark price, the
  contract size) comes from the venue's own digits in `info`, read strictly by
  `bot.venues.decode`; ccxt's unified fields are floats. A required figure that is missing,
  unreadable, absurd or wrongly signed, an asset without a name or listed twice, and two rows
  for one position side all stop the read: nothing is guessed, nothing read as zero.
- The futures wallet is named `futures`, and what may leave it is `total_available_balance`.
- The futures wallet reports no unrealized PnL: it comes from the positions, by the rule in
  `bot.venues.pnl`.
- There is no transfer API: the bot records moves as manual. With `surface: hft` in the
  venue's config the HFT API's Transfer Funds moves them (`hft_venue.CoinSwitchHftVenue`).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bot.model import SPOT, Funding, PerpMarket, Position, VenueState, Wallet
from bot.venues.base import SURFACE_OPTION, VenueTraits
from bot.venues.coinswitch.exchange import EXCHANGE_ID, FUTURES, FUTURES_EXCHANGE, coinswitch
from bot.venues.decode import RATE_BOUND, Decoder, Sign, shown
from bot.venues.generic import CcxtVenue
from bot.venues.pnl import with_unrealized_losses

HFT_SURFACE: Final = "hft"
HFT_MODULE: Final = "bot.venues.coinswitch.hft_venue"
GET_WALLET_BALANCE: Final = "GET /trade/api/v2/futures/wallet_balance"
GET_PORTFOLIO: Final = "GET /trade/api/v2/user/portfolio"
GET_POSITIONS: Final = "GET /trade/api/v2/futures/positions"
GET_TICKER: Final = "GET /trade/api/v2/futures/ticker"

#: `position_side` values (Get Positions) and the bot's names for them
SIDES: Final[Mapping[str, str]] = {"LONG": "long", "SHORT": "short"}
#: `position_size` is "in base asset" (Get Positions): one contract is one coin
CONTRACT_SIZE: Final = Decimal(1)


class CoinSwitchVenue(CcxtVenue):
    """CoinSwitch: a 'spot' and a 'futures' wallet, no transfer API (moves are manual)."""

    exchange_ids = (EXCHANGE_ID,)
    ccxt_class = coinswitch
    surfaces = frozenset({"futures", HFT_SURFACE})
    traits = VenueTraits(
        account_aliases={"main": SPOT, "swap": FUTURES, "future": FUTURES, "linear": FUTURES},
        # the spot pairs' decimals: POST /trade/api/v2/exchangePrecision (fetch_markets)
        dry_run_rest_reads=frozenset({("POST", "spot/exchangePrecision")}),
    )

    @classmethod
    def for_options(cls, options: Mapping[str, Any]) -> type[CcxtVenue]:
        """`surface: hft` is served by `CoinSwitchHftVenue` (automated transfers), imported by
        name when chosen since it builds on this class."""
        if cls is CoinSwitchVenue and options.get(SURFACE_OPTION) == HFT_SURFACE:
            module = importlib.import_module(HFT_MODULE)
            chosen: type[CcxtVenue] = module.CoinSwitchHftVenue
            return chosen
        return cls

    async def connect(self) -> None:
        """The contract size is the venue's definition (one coin), not ccxt's float."""
        await super().connect()
        if type(self) is CoinSwitchVenue:
            self.account_mode = "Futures v2: no transfer API, moves are manual instructions"
        for symbol, market in list(self._perps.items()):
            self._perps[symbol] = replace(market, contract_size=CONTRACT_SIZE)

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return FUTURES

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": self.normalize_account(account)}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        """Wallets from the raw body in `info`: ccxt's unified numbers are floats."""
        account = self.normalize_account(account)
        if account == SPOT:
            return spot_wallets(balance.get("info"), venue=self.name)
        if account == FUTURES:
            return futures_wallets(balance.get("info"), venue=self.name)
        return super().parse_wallets(account, balance)

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        """The hedged positions from the raw Get Positions rows, strictly (see the module)."""
        if not symbols:
            return []
        raw = await self.call(self.client.fetch_positions, symbols)
        by_id = {
            self.client.market(symbol)["id"].upper(): self._perps[symbol] for symbol in symbols
        }
        return positions_from_rows((r.get("info") for r in raw), by_id, venue=self.name)

    async def read_funding(self, symbol: str) -> Funding:
        """Get Ticker's `funding_rate` and `mark_price`, as the venue wrote them."""
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        decoder = Decoder(self.name, GET_TICKER)
        at = f"data.{FUTURES_EXCHANGE}"
        ticker = decoder.mapping(raw.get("info"), at, allow_empty=True)
        next_ms = raw.get("nextFundingTimestamp")
        return Funding(
            symbol=symbol,
            rate=decoder.decimal(ticker, "funding_rate", at, bound=RATE_BOUND),
            mark_price=decoder.decimal(ticker, "mark_price", at, sign=Sign.POSITIVE),
            next_funding_at=datetime.fromtimestamp(next_ms / 1000, UTC) if next_ms else None,
        )

    async def read_state(self) -> VenueState:
        return with_unrealized_losses(await super().read_state())


def spot_wallets(info: object, *, venue: str) -> list[Wallet]:
    """Portfolio rows: `main_balance` is what is available (and transferable),
    `blocked_balance_order` is in open orders; both are required, one row per currency."""
    decoder = Decoder(venue, GET_PORTFOLIO)
    body = decoder.mapping(info, "the body", allow_empty=True)
    rows = decoder.sequence(decoder.field(body, "data"), "data")
    wallets: dict[str, Wallet] = {}
    for index, raw in enumerate(rows):
        row = decoder.mapping(raw, f"data[{index}]", allow_empty=True)
        asset = decoder.text(row, "currency", f"data[{index}]").upper()
        at = f"data[{asset}]"
        if asset in wallets:
            raise decoder.refuse(f"{at}.currency is {shown(row['currency'])} on two rows")
        free = decoder.decimal(row, "main_balance", at, sign=Sign.NON_NEGATIVE)
        used = decoder.decimal(row, "blocked_balance_order", at, sign=Sign.NON_NEGATIVE)
        wallets[asset] = Wallet(
            account=SPOT, asset=asset, free=free, used=used, balance=free + used, transferable=free
        )
    return list(wallets.values())


def futures_wallets(info: object, *, venue: str) -> list[Wallet]:
    """Get Wallet Balance's totals per settlement asset; `total_available_balance` is free and
    transferable, `total_blocked_balance` used, `total_balance` the balance."""
    decoder = Decoder(venue, GET_WALLET_BALANCE)
    body = decoder.mapping(info, "the body", allow_empty=True)
    data = decoder.mapping(decoder.field(body, "data"), "data", allow_empty=True)
    entries = decoder.sequence(
        decoder.field(data, "base_asset_balances", "data"), "data.base_asset_balances"
    )
    wallets: dict[str, Wallet] = {}
    for index, raw in enumerate(entries):
        entry = decoder.mapping(raw, f"data.base_asset_balances[{index}]", allow_empty=True)
        asset = decoder.text(entry, "base_asset", f"data.base_asset_balances[{index}]").upper()
        at = f"data.base_asset_balances[{asset}]"
        if asset in wallets:
            raise decoder.refuse(f"{at}.base_asset is {shown(entry['base_asset'])} twice")
        balances = decoder.mapping(
            decoder.field(entry, "balances", at), f"{at}.balances", allow_empty=True
        )
        at += ".balances"
        available = decoder.decimal(balances, "total_available_balance", at, sign=Sign.NON_NEGATIVE)
        wallets[asset] = Wallet(
            account=FUTURES,
            asset=asset,
            free=available,
            used=decoder.decimal(balances, "total_blocked_balance", at, sign=Sign.NON_NEGATIVE),
            balance=decoder.decimal(balances, "total_balance", at, sign=Sign.NON_NEGATIVE),
            transferable=available,
        )
    return list(wallets.values())


def positions_from_rows(
    rows: Iterable[object], markets: Mapping[str, PerpMarket], *, venue: str
) -> list[Position]:
    """Get Positions rows of the markets in `markets` (by venue id, upper case) as positions.

    One row per position side: a side on two rows is refused, and so is a perpetual open on
    both sides at once (the bot hedges one short per perpetual). A row of size 0 is flat.
    """
    decoder = Decoder(venue, GET_POSITIONS)
    sides: dict[str, set[str]] = defaultdict(set)
    positions: dict[str, Position] = {}
    for index, raw in enumerate(rows):
        row = decoder.mapping(raw, f"data[{index}]", allow_empty=True)
        market_id = decoder.text(row, "symbol", f"data[{index}]").upper()
        market = markets.get(market_id)
        if market is None:
            continue
        at = f"data[{market_id}]"
        side_text = decoder.text(row, "position_side", at)
        side = SIDES.get(side_text.upper())
        if side is None:
            raise decoder.refuse(f"{at}.position_side is {shown(side_text)}, not LONG or SHORT")
        if side in sides[market_id]:
            raise decoder.refuse(f"{at}.position_side is {shown(side_text)} on two rows")
        sides[market_id].add(side)
        position = position_from_row(row, market, decoder, at, side)
        if position is None:
            continue
        if market.symbol in positions:
            raise decoder.refuse(
                f"{at}.position_side is open both LONG and SHORT; the bot hedges one short "
                "per perpetual, so close one side first",
            )
        positions[market.symbol] = position
    return list(positions.values())


def position_from_row(
    row: Mapping[str, Any], market: PerpMarket, decoder: Decoder, at: str, side: str
) -> Position | None:
    """One Get Positions row as a `Position`; None when its size is 0 (flat)."""
    contracts = decoder.decimal(row, "position_size", at, sign=Sign.NON_NEGATIVE)
    if contracts == 0:
        return None
    return Position(
        symbol=market.symbol,
        side=side,
        contracts=contracts,
        contract_size=market.contract_size,
        notional=decoder.decimal(row, "position_value", at, sign=Sign.NON_NEGATIVE),
        entry_price=decoder.decimal(row, "avg_entry_price", at, sign=Sign.POSITIVE),
        mark_price=decoder.decimal(row, "mark_price", at, sign=Sign.POSITIVE),
        unrealized_pnl=decoder.decimal(row, "unrealised_pnl", at),
        initial_margin=decoder.optional_decimal(row, "position_margin", at, sign=Sign.NON_NEGATIVE),
        maintenance_margin=decoder.optional_decimal(
            row, "maint_margin", at, sign=Sign.NON_NEGATIVE
        ),
        liquidation_price=decoder.optional_decimal(
            row, "liquidation_price", at, sign=Sign.NON_NEGATIVE
        ),
    )
