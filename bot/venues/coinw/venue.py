"""The bot's venue for CoinW: `CoinWVenue` reads the `coinw` ccxt exchange into `bot.model`.

What the generic `Venue` would get wrong on CoinW:
- Every figure (balances, transferable, positions, the funding rate, the contract size) comes
  from the venue's own digits in `info`, read strictly by `bot.venues.decode`; ccxt's unified
  fields are floats. A required figure that is missing, unreadable, absurd or wrongly signed,
  an asset without a name or listed twice, and one position id on two rows all stop the read:
  nothing is guessed, nothing read as zero.
- The futures wallet's free money is not `availableMargin` (see `FuturesFigures`), and what
  may leave it is `account/available`, not `free`.
- In CoinW's "Split" position mode one perpetual is held as several positions on one side,
  each with its own id, opening price, margin and liquidation price ("Instructions for Futures
  Contract Merging and Splitting", https://coinw.zendesk.com/hc/en-us/articles/4411450440601);
  they are merged into one. Both sides at once is refused.
- The futures wallet reports no unrealized PnL: it comes from the positions, by the rule in
  `bot.venues.pnl`.
- There is no transfer API: the bot records moves as manual, rounded down to 0.01.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final

from bot.errors import VenueUnusable
from bot.model import SPOT, Funding, PerpMarket, Position, VenueState, Wallet
from bot.money import ZERO
from bot.venues.base import VenueTraits
from bot.venues.coinw.exchange import (
    EXCHANGE_ID,
    FUTURES,
    FUTURES_ASSET_FIELDS,
    FUTURES_SETTLE,
    FuturesFigures,
    coinw,
    margin_key,
    mark_price_key,
)
from bot.venues.decode import RATE_BOUND, Decoder, Sign, shown
from bot.venues.errors import ErrorKind, VenueError
from bot.venues.generic import CcxtVenue
from bot.venues.pnl import with_unrealized_losses

GET_INSTRUMENTS: Final = "GET /v1/perpum/instruments"
GET_USER_ASSETS: Final = "GET /v1/perpum/account/getUserAssets"
GET_AVAILABLE: Final = "GET /v1/perpum/account/available"
GET_POSITIONS: Final = "GET /v1/perpum/positions"
GET_FUNDING_RATE: Final = "GET /v1/perpum/fundingRate"
POST_SPOT_BALANCES: Final = "POST /api/v1/private?command=returnCompleteBalances"

#: the step planned (manual) transfers are rounded down to
MANUAL_TRANSFER_STEP: Final = Decimal("0.01")
#: `direction` values of a position row
SIDES: Final = frozenset({"long", "short"})


class CoinWVenue(CcxtVenue):
    """CoinW for the bot: two wallets (`spot`, `swap`), exact Decimals, no transfer API."""

    exchange_ids = (EXCHANGE_ID,)
    ccxt_class = coinw
    traits = VenueTraits(
        account_aliases={
            "main": SPOT,
            "swap": FUTURES,
            "future": FUTURES,
            "futures": FUTURES,
            "perpetual": FUTURES,
            "contract": FUTURES,
        },
        # the spot balance: POST /api/v1/private?command=returnCompleteBalances (fetch_balance)
        dry_run_rest_reads=frozenset({("POST", "spot/private/returnCompleteBalances")}),
    )

    async def connect(self) -> None:
        """Only USDT-margined perpetuals, each with its `oneLotSize` as the venue wrote it."""
        await super().connect()
        decoder = Decoder(self.name, GET_INSTRUMENTS)
        for symbol, market in list(self._perps.items()):
            if market.settle != FUTURES_SETTLE:
                raise VenueUnusable(
                    f"{symbol}: CoinW's futures account API reports {FUTURES_SETTLE} only; "
                    f"hedge a {FUTURES_SETTLE}-margined perpetual such as ETH/USDT:USDT"
                )
            raw = self.client.market(symbol)
            at = f"data[{raw['id']}]"
            instrument = decoder.mapping(raw.get("info"), at, allow_empty=True)
            size = decoder.decimal(instrument, "oneLotSize", at, sign=Sign.POSITIVE)
            self._perps[symbol] = replace(market, contract_size=size)

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return FUTURES

    def transfer_step(self, asset: str) -> Decimal:
        """CoinW has no transfer API and no currency list: moves are typed in by hand, and
        ccxt's per-currency precision would only echo some market's price tick."""
        return MANUAL_TRANSFER_STEP

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": self.normalize_account(account)}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        account = self.normalize_account(account)
        if account == FUTURES:
            return [futures_wallet(balance.get("info"), venue=self.name)]
        if account == SPOT:
            return spot_wallets(balance.get("info"), venue=self.name)
        return super().parse_wallets(account, balance)

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        """The hedged positions from the raw rows, strictly; split positions merged."""
        if not symbols:
            return []
        raw = await self.call(self.client.fetch_positions, symbols)
        rows = [r.get("info") for r in raw if r.get("symbol") in self._perps]
        by_id = {
            self.client.market(symbol)["id"].upper(): self._perps[symbol] for symbol in symbols
        }
        return merge_positions(positions_from_rows(rows, by_id, venue=self.name), venue=self.name)

    async def read_funding(self, symbol: str) -> Funding:
        """The last settlement's rate, as the venue wrote it (the REST API has no mark price)."""
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        data = raw.get("info")
        row = data if isinstance(data, Mapping) else {"value": data}
        rate = Decoder(self.name, GET_FUNDING_RATE).decimal(row, "value", "data", bound=RATE_BOUND)
        return Funding(symbol=symbol, rate=rate, mark_price=None)

    async def read_state(self) -> VenueState:
        return with_unrealized_losses(await super().read_state())


def futures_wallet(info: object, *, venue: str) -> Wallet:
    """The USDT futures wallet from `fetch_balance(type=swap)`'s `info`: `getUserAssets` fields,
    all required and non-negative, and `transferable` (the value of `account/available`)."""
    assets = Decoder(venue, GET_USER_ASSETS)
    row = assets.mapping(info, "data", allow_empty=True)
    values = {key: assets.decimal(row, key, sign=Sign.NON_NEGATIVE) for key in FUTURES_ASSET_FIELDS}
    figures = FuturesFigures(
        available_margin=values["availableMargin"],
        available_usdt=values["availableUsdt"],
        held_margin=values["alMargin"],
        frozen=values["alFreeze"],
        coupon=values["almightyGold"],
    )
    transferable = Decoder(venue, GET_AVAILABLE).decimal(
        row, "transferable", "data", sign=Sign.NON_NEGATIVE, name="value"
    )
    return Wallet(
        account=FUTURES,
        asset=FUTURES_SETTLE,
        free=figures.free,
        used=figures.used,
        balance=figures.total,
        transferable=transferable,
    )


def spot_wallets(info: object, *, venue: str) -> list[Wallet]:
    """`returnCompleteBalances` data: `{asset: {available, onOrders}}`, both required and
    non-negative; an asset named twice (in any case) is refused."""
    decoder = Decoder(venue, POST_SPOT_BALANCES)
    body = decoder.mapping(info, "the body", allow_empty=True)
    data = decoder.mapping(decoder.field(body, "data"), "data", allow_empty=True)
    wallets: dict[str, Wallet] = {}
    for name, raw in data.items():
        asset = name.strip().upper()
        if not asset:
            raise decoder.refuse(f"data[{shown(name)}] is an entry without an asset name")
        at = f"data.{name}"
        if asset in wallets:
            raise decoder.refuse(f"{at} is a second entry for {asset}")
        entry = decoder.mapping(raw, at, allow_empty=True)
        free = decoder.decimal(entry, "available", at, sign=Sign.NON_NEGATIVE)
        on_orders = decoder.decimal(entry, "onOrders", at, sign=Sign.NON_NEGATIVE)
        wallets[asset] = Wallet(
            account=SPOT,
            asset=asset,
            free=free,
            used=on_orders,
            balance=free + on_orders,
            transferable=free,
        )
    return [wallets[asset] for asset in sorted(wallets)]


def positions_from_rows(
    rows: Iterable[object], markets: Mapping[str, PerpMarket], *, venue: str
) -> list[Position]:
    """Position rows of the markets in `markets` (by instrument, upper case), one `Position`
    per row that holds something. Each row needs its own id: one id on two rows is refused."""
    decoder = Decoder(venue, GET_POSITIONS)
    seen: set[str] = set()
    positions = []
    for index, raw in enumerate(rows):
        row = decoder.mapping(raw, f"data[{index}]", allow_empty=True)
        instrument = decoder.text(row, "instrument", f"data[{index}]").upper()
        market = markets.get(instrument)
        if market is None:
            continue
        at = f"data[{instrument}]"
        identity = decoder.field(row, "id", at)
        if isinstance(identity, bool) or not isinstance(identity, str | int) or identity == "":
            raise decoder.refuse(f"{at}.id is {shown(identity)}, not a position id")
        if str(identity) in seen:
            raise decoder.refuse(f"{at}.id is {shown(identity)} on two rows")
        seen.add(str(identity))
        position = position_from_row(row, market, decoder, at)
        if position is not None:
            positions.append(position)
    return positions


def position_from_row(
    row: Mapping[str, Any], market: PerpMarket, decoder: Decoder, at: str
) -> Position | None:
    """One row as a `Position`; None when it holds no contracts (flat).

    `currentPiece` counts contracts of `oneLotSize` base units; the side is `direction`, so the
    count cannot be negative. The row carries no mark price: `indexPrice` stands in for it
    unless a `markPrice` is sent (`mark_price_key`).
    """
    direction = decoder.text(row, "direction", at)
    side = direction.lower()
    if side not in SIDES:
        raise decoder.refuse(f"{at}.direction is {shown(direction)}, not long or short")
    contracts = decoder.decimal(row, "currentPiece", at, sign=Sign.NON_NEGATIVE)
    if contracts == 0:
        return None
    mark = decoder.decimal(row, mark_price_key(row), at, sign=Sign.POSITIVE)
    return Position(
        symbol=market.symbol,
        side=side,
        contracts=contracts,
        contract_size=market.contract_size,
        notional=contracts * market.contract_size * mark,
        entry_price=decoder.decimal(row, "openPrice", at, sign=Sign.POSITIVE),
        mark_price=mark,
        unrealized_pnl=decoder.decimal(row, "profitUnreal", at),
        initial_margin=decoder.optional_decimal(row, margin_key(row), at, sign=Sign.NON_NEGATIVE),
        liquidation_price=decoder.optional_decimal(
            row, "liquidationPrice", at, sign=Sign.NON_NEGATIVE
        ),
    )


def merge_positions(positions: Iterable[Position], *, venue: str) -> list[Position]:
    """One position per symbol out of CoinW's split positions (see the module).

    Rows on one side are summed; the entry price is contract-weighted and the liquidation price
    is the nearest one (lowest for a short, highest for a long). A margin or liquidation price
    that only some rows give is left unknown rather than summed or picked from the others.
    Both sides at once is refused.
    """
    by_symbol: dict[str, list[Position]] = {}
    for position in positions:
        by_symbol.setdefault(position.symbol, []).append(position)
    merged = []
    for symbol, group in by_symbol.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        sides = {p.side for p in group}
        if len(sides) != 1:
            raise VenueError(
                ErrorKind.UNTRUSTED,
                venue,
                f"{symbol}: both long and short positions are open; the bot hedges one short "
                "per perpetual, so close one side first",
            )
        contracts = sum((p.contracts for p in group), ZERO)
        entries = [(p.entry_price, p.contracts) for p in group if p.entry_price is not None]
        entry_weight = sum((c for _, c in entries), ZERO)
        liquidations = [p.liquidation_price for p in group if p.liquidation_price is not None]
        margins = [p.initial_margin for p in group if p.initial_margin is not None]
        nearest = min if group[0].side == "short" else max
        merged.append(
            replace(
                group[0],
                contracts=contracts,
                notional=sum((p.notional for p in group), ZERO),
                unrealized_pnl=sum((p.unrealized_pnl for p in group), ZERO),
                entry_price=sum((e * c for e, c in entries), ZERO) / entry_weight
                if entry_weight
                else None,
                initial_margin=sum(margins, ZERO) if len(margins) == len(group) else None,
                liquidation_price=nearest(liquidations)
                if len(liquidations) == len(group)
                else None,
            )
        )
    return merged
