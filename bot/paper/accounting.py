"""Binance's cross- and isolated-margin accounting for USD-M (linear) and COIN-M (inverse)
perpetuals.

An isolated position is margined by its own wallet (`Position.isolated_wallet`, part of the
asset's `walletBalance`): its PnL and margin count only there, so the cross wallet's
`availableBalance` and `maxWithdrawAmount` do not move with it (the property the seed article
values for bots); its liquidation price is the same formula on its own wallet alone.

Pure functions, no I/O, Decimal throughout. Linear figures are in the quote (USDT); inverse
figures are in the coin, with `amount` in contracts worth `contract_size` USD each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.paper.model import MARGIN_WALLET, Bracket, MarketKind, PaperState, Position

ZERO = Decimal(0)
DEFAULT_MAINT_MARGIN_RATIO = Decimal("0.005")


def unrealized_pnl(
    kind: MarketKind,
    amount: Decimal,
    entry_price: Decimal,
    mark_price: Decimal,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """Linear: amount * (mark - entry). Inverse: amount * size * (1/entry - 1/mark), in coin."""
    if amount.is_zero():
        return ZERO
    if kind == MarketKind.LINEAR:
        return amount * (mark_price - entry_price)
    if kind == MarketKind.INVERSE:
        # one division, so round figures stay exact: size * (1/entry - 1/mark)
        return amount * contract_size * (mark_price - entry_price) / (entry_price * mark_price)
    raise ValueError(f"no PnL for {kind} markets")


def notional(
    kind: MarketKind, amount: Decimal, mark_price: Decimal, contract_size: Decimal = Decimal(1)
) -> Decimal:
    """Signed, as Binance reports it: negative for shorts. Inverse notional is in the coin."""
    if kind == MarketKind.LINEAR:
        return amount * mark_price
    if kind == MarketKind.INVERSE:
        return amount * contract_size / mark_price
    raise ValueError(f"no notional for {kind} markets")


def fees_paid(
    kind: MarketKind,
    amount: Decimal,
    entry_price: Decimal,
    commission_rate: Decimal,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """The commission the opening fills paid, in the margin asset: rate x the notional at entry
    (linear: |amount| * entry in the quote; inverse: |contracts| * size / entry in the coin)."""
    if amount.is_zero():
        return ZERO
    if kind == MarketKind.LINEAR:
        return commission_rate * abs(amount) * entry_price
    if kind == MarketKind.INVERSE:
        return commission_rate * abs(amount) * contract_size / entry_price
    raise ValueError(f"no fees for {kind} markets")


def break_even_price(
    kind: MarketKind,
    amount: Decimal,
    entry_price: Decimal,
    fees: Decimal,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """The price at which closing the position gives back exactly the fees it paid to open.

    Binance's FAQ ("How to Visualize the Breakeven Price of Open Positions on Binance Futures"):
    break-even = (total cost of the position - total gained from it) / position size, the size
    signed (negative for a short); the fees paid are part of the cost. With `fees` in the
    margin asset, per unit of the position:
      linear:  BE = entry + fees / amount                          (amount signed, in the base)
      inverse: BE = entry + fees * entry^2 / (contracts * size)    (contracts signed; fees in
               the coin are worth fees * entry USD at entry)
    Both are entry * (1 + side * rate) for fees = rate x notional at entry, which is what
    Binance answers: ccxt's recorded /fapi/v3/positionRisk (long 67445.9 -> 67479.62295 at
    0.05 %), Binance's Position Information V3 example (long 0.385 -> 0.385077 at 0.02 %) and
    ccxt's recorded /dapi/v1/positionRisk (short 68911.00000037 -> 68876.5445003 at 0.05 %).
    Funding is not counted (the FAQ says so). 0 when flat."""
    if amount.is_zero():
        return ZERO
    if kind == MarketKind.LINEAR:
        return entry_price + fees / amount
    if kind == MarketKind.INVERSE:
        return entry_price + fees * entry_price * entry_price / (amount * contract_size)
    raise ValueError(f"no break-even price for {kind} markets")


def initial_margin(notional_value: Decimal, leverage: int) -> Decimal:
    return abs(notional_value) / leverage


def bracket_for(brackets: Sequence[Bracket], abs_notional: Decimal) -> Bracket | None:
    """The tier whose [floor, cap) holds the notional; the last tier beyond the table."""
    chosen = None
    for bracket in brackets:
        if abs_notional < bracket.floor:
            break
        chosen = bracket
    return chosen


def maintenance_margin(notional_value: Decimal, brackets: Sequence[Bracket]) -> Decimal:
    """|notional| * ratio - cum of its tier (0.5 % when the market has no table)."""
    abs_notional = abs(notional_value)
    bracket = bracket_for(brackets, abs_notional)
    if bracket is None:
        return abs_notional * DEFAULT_MAINT_MARGIN_RATIO
    return max(ZERO, abs_notional * bracket.maint_margin_ratio - bracket.cum)


def liquidation_price(
    kind: MarketKind,
    amount: Decimal,
    entry_price: Decimal,
    *,
    wallet_balance: Decimal,
    maint_margin_ratio: Decimal,
    cum: Decimal = ZERO,
    other_maint_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """Cross-margin, one-way liquidation price (Binance's published formulas); 0 when the position
    cannot be liquidated by price alone.

    Linear:  LP = (WB' + cum - side*|Q|*EP) / (|Q|*MMR - side*|Q|)
    Inverse: LP = (|V|*MMR + side*|V|) / (WB' + cum + side*|V|/EP), V = contracts * size (USD)
    where WB' = wallet balance - other positions' maintenance margin + their unrealized PnL.
    """
    if amount.is_zero():
        return ZERO
    side = Decimal(1) if amount > 0 else Decimal(-1)
    adjusted_wallet = wallet_balance - other_maint_margin + other_unrealized_pnl
    if kind == MarketKind.LINEAR:
        size = abs(amount)
        numerator = adjusted_wallet + cum - side * size * entry_price
        denominator = size * maint_margin_ratio - side * size
    elif kind == MarketKind.INVERSE:
        value = abs(amount) * contract_size
        numerator = value * maint_margin_ratio + side * value
        denominator = adjusted_wallet + cum + side * value / entry_price
    else:
        raise ValueError(f"no liquidation for {kind} markets")
    if denominator.is_zero():
        return ZERO
    price = numerator / denominator
    return price if price > 0 else ZERO


def liquidation_price_in_tier(
    kind: MarketKind,
    amount: Decimal,
    entry_price: Decimal,
    brackets: Sequence[Bracket],
    *,
    start: Bracket | None,
    wallet_balance: Decimal,
    other_maint_margin: Decimal = ZERO,
    other_unrealized_pnl: Decimal = ZERO,
    contract_size: Decimal = Decimal(1),
) -> Decimal:
    """`liquidation_price` with the tier that holds the position's notional at the liquidation
    price: Binance's FAQ says that when it differs from the tier at the opening price, the
    rate and maintenance amount of that tier are substituted and the price recomputed."""
    bracket = start
    price = ZERO
    for _ in range(len(brackets) + 1):
        price = liquidation_price(
            kind,
            amount,
            entry_price,
            wallet_balance=wallet_balance,
            maint_margin_ratio=(
                bracket.maint_margin_ratio if bracket else DEFAULT_MAINT_MARGIN_RATIO
            ),
            cum=bracket.cum if bracket else ZERO,
            other_maint_margin=other_maint_margin,
            other_unrealized_pnl=other_unrealized_pnl,
            contract_size=contract_size,
        )
        if price <= 0 or not brackets:
            return price
        at = bracket_for(brackets, abs(notional(kind, amount, price, contract_size)))
        if at == bracket:
            return price
        bracket = at
    return price


def available_balance(
    wallet_balance: Decimal, unrealized: Decimal, initial_margin_total: Decimal
) -> Decimal:
    return max(ZERO, wallet_balance + unrealized - initial_margin_total)


def max_withdraw_amount(
    wallet_balance: Decimal, unrealized: Decimal, initial_margin_total: Decimal
) -> Decimal:
    """Unrealized loss reduces what can leave the wallet; unrealized profit does not add to it."""
    available = available_balance(wallet_balance, unrealized, initial_margin_total)
    realized_only = wallet_balance + min(ZERO, unrealized) - initial_margin_total
    return max(ZERO, min(available, realized_only))


@dataclass(frozen=True, kw_only=True)
class PositionFigures:
    position: Position
    margin_asset: str
    contract_size: Decimal
    mark_price: Decimal
    notional: Decimal
    unrealized_pnl: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    bracket: Bracket | None
    liquidation_price: Decimal
    fees_paid: Decimal  # in the margin asset, by the opening fills
    break_even_price: Decimal

    @property
    def isolated(self) -> bool:
        return self.position.isolated

    @property
    def isolated_wallet(self) -> Decimal:
        return self.position.isolated_wallet if self.isolated else ZERO

    @property
    def isolated_margin(self) -> Decimal:
        """Binance's `isolatedMargin`: the isolated wallet plus the position's unrealized PnL."""
        return self.isolated_wallet + self.unrealized_pnl if self.isolated else ZERO

    @property
    def removable_margin(self) -> Decimal:
        """What `positionMargin` type 2 may take out of an isolated position: what stays must
        still cover its initial margin after its unrealized loss (profit is not removable)."""
        if not self.isolated:
            return ZERO
        left = self.isolated_wallet + min(ZERO, self.unrealized_pnl) - self.initial_margin
        return max(ZERO, min(self.isolated_wallet, left))


@dataclass(frozen=True, kw_only=True)
class WalletFigures:
    asset: str
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    update_time: int
    cross_wallet_balance: Decimal  # the wallet balance less every isolated wallet in it
    cross_unrealized_pnl: Decimal  # the cross positions' unrealized PnL only


@dataclass(frozen=True, kw_only=True)
class AccountFigures:
    kind: MarketKind
    wallets: Mapping[str, WalletFigures]
    positions: Mapping[str, PositionFigures]  # by symbol

    def total(self, attribute: str) -> Decimal:
        return sum((getattr(w, attribute) for w in self.wallets.values()), ZERO)


def account_figures(state: PaperState, kind: MarketKind) -> AccountFigures:
    """Every figure Binance serves for the USD-M (LINEAR) or COIN-M (INVERSE) account."""
    balances = state.futures_balances(MARGIN_WALLET[kind])
    raw: list[tuple[Position, PositionFigures]] = []
    for position in state.positions:
        if position.kind != kind or position.amount.is_zero():
            continue
        market = state.market(kind, position.symbol)
        if market is None or market.margin_asset is None:
            continue
        mark = state.mark_price(position.symbol)
        signed_notional = notional(kind, position.amount, mark, market.contract_size)
        fees = fees_paid(
            kind,
            position.amount,
            position.entry_price,
            position.commission_rate,
            market.contract_size,
        )
        figures = PositionFigures(
            position=position,
            margin_asset=market.margin_asset,
            contract_size=market.contract_size,
            mark_price=mark,
            notional=signed_notional,
            unrealized_pnl=unrealized_pnl(
                kind, position.amount, position.entry_price, mark, market.contract_size
            ),
            initial_margin=initial_margin(signed_notional, position.leverage),
            maint_margin=maintenance_margin(signed_notional, market.brackets),
            bracket=bracket_for(market.brackets, abs(signed_notional)),
            liquidation_price=ZERO,
            fees_paid=fees,
            break_even_price=break_even_price(
                kind, position.amount, position.entry_price, fees, market.contract_size
            ),
        )
        raw.append((position, figures))

    positions: dict[str, PositionFigures] = {}
    for position, figures in raw:
        if position.isolated:  # margined by its own wallet alone, nothing else shares it
            wallet_balance, others = position.isolated_wallet, []
        else:
            others = [
                f
                for p, f in raw
                if p is not position and not p.isolated and f.margin_asset == figures.margin_asset
            ]
            balance = balances.get(figures.margin_asset)
            wallet_balance = balance.wallet_balance if balance is not None else ZERO
            wallet_balance -= sum(
                (f.isolated_wallet for f in _of_asset(raw, figures.margin_asset)), ZERO
            )
        market = state.market(kind, position.symbol)
        assert market is not None
        price = liquidation_price_in_tier(
            kind,
            position.amount,
            position.entry_price,
            market.brackets,
            start=figures.bracket,
            wallet_balance=wallet_balance,
            other_maint_margin=sum((f.maint_margin for f in others), ZERO),
            other_unrealized_pnl=sum((f.unrealized_pnl for f in others), ZERO),
            contract_size=figures.contract_size,
        )
        positions[position.symbol] = replace(figures, liquidation_price=price)

    wallets: dict[str, WalletFigures] = {}
    for asset, balance in balances.items():
        mine = [f for f in positions.values() if f.margin_asset == asset]
        cross = [f for f in mine if not f.isolated]
        unrealized = sum((f.unrealized_pnl for f in mine), ZERO)
        cross_wallet = balance.wallet_balance - sum((f.isolated_wallet for f in mine), ZERO)
        cross_unrealized = sum((f.unrealized_pnl for f in cross), ZERO)
        cross_initial = sum((f.initial_margin for f in cross), ZERO)
        wallets[asset] = WalletFigures(
            asset=asset,
            wallet_balance=balance.wallet_balance,
            unrealized_pnl=unrealized,
            margin_balance=balance.wallet_balance + unrealized,
            initial_margin=sum((f.initial_margin for f in mine), ZERO),
            maint_margin=sum((f.maint_margin for f in mine), ZERO),
            available_balance=available_balance(cross_wallet, cross_unrealized, cross_initial),
            max_withdraw_amount=max_withdraw_amount(cross_wallet, cross_unrealized, cross_initial),
            update_time=balance.update_time,
            cross_wallet_balance=cross_wallet,
            cross_unrealized_pnl=cross_unrealized,
        )
    return AccountFigures(kind=kind, wallets=wallets, positions=positions)


def _of_asset(raw: Sequence[tuple[Position, PositionFigures]], asset: str) -> list[PositionFigures]:
    return [f for _, f in raw if f.margin_asset == asset]
