"""The one margin figure of each pool of collateral: what the plan, the guard's trigger, its
estimate between reads, `bot status`, `bot balances`, the metrics, the danger alert and the
report all read. Pure: no I/O, no clock.

A pool is the collateral a hedge's short draws on, and each is judged by the venue's own
figures for it:

- an **isolated** position is its own pool: its isolated wallet plus its unrealized PnL
  (Binance `isolatedWallet` + `unRealizedProfit`), over its own notional;
- a **cross** pool is one futures wallet in one settle asset: the venue's cross figures
  (Binance `crossWalletBalance` + `crossUnPnl`), over the notional of the cross hedges in it.
  The wallet totals (`walletBalance`, `unrealizedProfit`) count every isolated position's own
  wallet and PnL, hedged or not, so they are used only where a venue reports no cross figures,
  less every isolated position that was read.

So no isolated wallet ever counts as cross collateral, and a hedge gets the same ratio from
every consumer: they all call `hedge_margins` (or, inside the policy, `cross_wallet` and
`isolated_position`, which it is built from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import AccountMargin, Position, State, VenueState, Wallet
from bot.money import ZERO, plain


@dataclass(frozen=True, kw_only=True)
class HedgeMargin:
    """One hedge's margin as read: the equity and short notional of the pool it draws on."""

    hedge: str
    venue: str
    asset: str
    #: the pool: "cross linear USDT" or "isolated ETH/USDT:USDT"
    pool: str
    isolated: bool
    equity: Decimal
    notional: Decimal
    lower: Decimal
    upper: Decimal
    mark_price: Decimal | None
    liquidation_price: Decimal | None
    #: a unified account's own figure, where the hedge is judged by it (its band is then in
    #: that figure's terms, and its danger line is the band's edge on the liquidation side)
    account: AccountMargin | None = None

    @property
    def ratio(self) -> Decimal | None:
        """Equity over short notional; None when flat, or on a unified account (judged by its
        own figure, `account`)."""
        if self.account is not None:
            return None
        return self.equity / self.notional if self.notional > 0 else None

    @property
    def liquidation_distance(self) -> Decimal | None:
        """How far the mark may move before liquidation, as a fraction of the mark."""
        if not self.mark_price or self.liquidation_price is None or self.liquidation_price <= 0:
            return None
        return abs(self.liquidation_price - self.mark_price) / self.mark_price

    def under(self, danger: Decimal) -> bool:
        """In danger: the ratio under `danger`; on a unified account, its figure beyond the
        band on the liquidation side (the plan tops it up from there, so the guard acts)."""
        if self.account is not None:
            band = (self.lower, self.upper)
            return self.notional > 0 and self.account.worse_than(self.account.danger_edge(band))
        ratio = self.ratio
        return ratio is not None and ratio < danger

    def danger_words(self, danger: Decimal) -> tuple[str, str]:
        """Where the hedge stands against the line `under` compares with: (in danger, safe)."""
        if self.account is not None:
            edge = self.account.danger_edge((self.lower, self.upper))
            line = f"the band's edge {self.account.figure} {plain(edge)}"
            return f"beyond {line}", f"within {line}"
        return f"under the danger line {danger:f}", f"at or above the danger line {danger:f}"

    def describe(self) -> str:
        if self.account is not None:
            return (
                f"hedge {self.hedge} on {self.venue}: {self.account.describe()}, band "
                f"[{plain(self.lower)}, {plain(self.upper)}] ({self.pool}: equity "
                f"{plain(self.account.equity)} USD, short notional {plain(self.notional)} "
                f"{self.asset})"
            )
        ratio = self.ratio
        text = f"hedge {self.hedge} on {self.venue}: margin ratio "
        text += f"{ratio:.4f}" if ratio is not None else "n/a (flat)"
        text += f" ({self.pool}: equity {plain(self.equity)} / notional {plain(self.notional)}"
        text += f" {self.asset})"
        distance = self.liquidation_distance
        if self.liquidation_price is not None and distance is not None:
            text += (
                f"; liquidation price {plain(self.liquidation_price)}, {distance * 100:.2f}% "
                f"from mark {plain(self.mark_price)}"
            )
        return text

    def as_json(self) -> dict[str, str | bool | None]:
        """The figure as `bot balances --json` and `bot status --json` show it."""
        ratio, distance = self.ratio, self.liquidation_distance
        return {
            "venue": self.venue,
            "pool": self.pool,
            "isolated": self.isolated,
            "asset": self.asset,
            "equity": plain(self.equity),
            "notional": plain(self.notional),
            "margin_ratio": plain(ratio.quantize(RATIO_PLACES)) if ratio is not None else None,
            "band": [plain(self.lower), plain(self.upper)],
            "mark_price": plain(self.mark_price) if self.mark_price else None,
            "liquidation_price": plain(self.liquidation_price)
            if self.liquidation_price is not None
            else None,
            "liquidation_distance": plain(distance.quantize(RATIO_PLACES))
            if distance is not None
            else None,
            "account_figure": self.account.figure if self.account is not None else None,
            "account_value": plain(self.account.value) if self.account is not None else None,
        }


#: ratios are shown to six places everywhere (plan figures, status, balances)
RATIO_PLACES = Decimal("0.000001")


def isolated_position(position: Position | None) -> bool:
    """True when the position is its own pool: isolated, with its wallet reported."""
    return position is not None and position.isolated and position.isolated_wallet is not None


def cross_wallet(venue: VenueState, account: str, asset: str) -> Wallet:
    """The futures wallet as its cross pool counts it: the venue's own cross figures where it
    reports them; else the totals less every isolated position read in that wallet."""
    wallet = venue.wallet(account, asset)
    if wallet.cross_balance is not None and wallet.cross_unrealized_pnl is not None:
        return replace(
            wallet, balance=wallet.cross_balance, unrealized_pnl=wallet.cross_unrealized_pnl
        )
    isolated = [
        position
        for symbol, position in venue.positions.items()
        if position.isolated
        and symbol in venue.markets
        and venue.markets[symbol].futures_account == account
        and venue.markets[symbol].settle == asset
    ]
    if not isolated:
        return wallet
    return replace(
        wallet,
        balance=wallet.balance - sum((p.isolated_wallet or ZERO for p in isolated), ZERO),
        unrealized_pnl=wallet.unrealized_pnl - sum((p.unrealized_pnl for p in isolated), ZERO),
    )


def hedge_margins(state: State, hedges: Mapping[str, HedgeConfig]) -> dict[str, HedgeMargin]:
    """The margin of every hedge whose venue (and perpetual) was read. Hedges in one cross
    pool share its equity and notional, so each gets the pool's ratio, as the policy judges
    them; an isolated hedge gets its own position's; the hedges on a unified account get the
    account's own figure (where it reports one). An isolated position whose wallet the venue
    did not report has no figure here."""
    cross: dict[tuple[str, str, str], list[str]] = {}
    unified: dict[tuple[str, str, str], list[str]] = {}
    margins: dict[str, HedgeMargin] = {}
    for name, hedge in sorted(hedges.items()):
        venue = state.venues.get(hedge.venue)
        market = venue.markets.get(hedge.perp) if venue else None
        if venue is None or market is None:
            continue
        if venue.shared_collateral:
            if venue.account_margin is not None:
                key = (hedge.venue, market.futures_account, market.settle)
                unified.setdefault(key, []).append(name)
            continue
        position = venue.positions.get(hedge.perp)
        if isolated_position(position):
            assert position is not None
            margins[name] = _margin(
                name,
                hedge,
                position,
                asset=market.settle,
                pool=f"isolated {hedge.perp}",
                isolated=True,
                equity=position.isolated_equity,
                notional=abs(position.notional),
            )
        elif position is None or not position.isolated:
            cross.setdefault((hedge.venue, market.futures_account, market.settle), []).append(name)
    for (venue_name, account, asset), names in cross.items():
        venue = state.venues[venue_name]
        equity = cross_wallet(venue, account, asset).equity
        notional = sum((_notional(venue.positions.get(hedges[n].perp)) for n in names), ZERO)
        for name in names:
            margins[name] = _margin(
                name,
                hedges[name],
                venue.positions.get(hedges[name].perp),
                asset=asset,
                pool=f"cross {account} {asset}",
                isolated=False,
                equity=equity,
                notional=notional,
            )
    for (venue_name, account, asset), names in unified.items():
        venue = state.venues[venue_name]
        notional = sum((_notional(venue.positions.get(hedges[n].perp)) for n in names), ZERO)
        for name in names:
            margins[name] = replace(
                _margin(
                    name,
                    hedges[name],
                    venue.positions.get(hedges[name].perp),
                    asset=asset,
                    pool=f"unified account {account}",
                    isolated=False,
                    equity=venue.wallet(account, asset).equity,
                    notional=notional,
                ),
                account=venue.account_margin,
            )
    return dict(sorted(margins.items()))


def _margin(
    name: str,
    hedge: HedgeConfig,
    position: Position | None,
    *,
    asset: str,
    pool: str,
    isolated: bool,
    equity: Decimal,
    notional: Decimal,
) -> HedgeMargin:
    return HedgeMargin(
        hedge=name,
        venue=hedge.venue,
        asset=asset,
        pool=pool,
        isolated=isolated,
        equity=equity,
        notional=notional,
        lower=hedge.band[0],
        upper=hedge.band[1],
        mark_price=position.mark_price if position else None,
        liquidation_price=position.liquidation_price if position else None,
    )


def _notional(position: Position | None) -> Decimal:
    return abs(position.notional) if position is not None else ZERO


def endangered(margins: Mapping[str, HedgeMargin], danger: Decimal) -> list[HedgeMargin]:
    """The hedges whose pool is under the danger line."""
    return [m for m in margins.values() if m.under(danger)]
