"""The one unrealized-PnL rule of the manual venues: each position counts its loss and never
its gain, so a gain on one position cannot hide a loss on another."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.model import MarketKind, PerpMarket, Position, VenueState, Wallet
from bot.venues.errors import ErrorKind, VenueError
from bot.venues.pnl import counted_losses, counted_pnl, with_unrealized_losses

D = Decimal
ETH, BTC, SOL = "ETH/USDT:USDT", "BTC/USDT:USDT", "SOL/USDC:USDC"


def market(symbol: str, account: str = "swap") -> PerpMarket:
    base, rest = symbol.split("/")
    settle = rest.split(":")[1]
    return PerpMarket(
        symbol=symbol,
        kind=MarketKind.LINEAR,
        base=base,
        quote=settle,
        settle=settle,
        contract_size=D(1),
        futures_account=account,
    )


def position(symbol: str, pnl: str) -> Position:
    return Position(
        symbol=symbol,
        side="short",
        contracts=D(1),
        contract_size=D(1),
        notional=D(100),
        entry_price=D(100),
        mark_price=D(100),
        unrealized_pnl=D(pnl),
    )


def wallet(asset: str, account: str = "swap") -> Wallet:
    return Wallet(
        account=account, asset=asset, free=D(900), used=D(100), balance=D(1000), transferable=D(900)
    )


def state(*positions: Position, wallets: tuple[Wallet, ...] = (wallet("USDT"),)) -> VenueState:
    return VenueState(
        venue="coinw",
        read_at=datetime(2025, 1, 1, tzinfo=UTC),
        wallets={(w.account, w.asset): w for w in wallets},
        positions={p.symbol: p for p in positions},
        markets={p.symbol: market(p.symbol) for p in positions},
    )


@pytest.mark.parametrize(
    ("pnl", "counted"),
    [("-149.625", "-149.625"), ("75.5", "0"), ("0", "0"), ("-0.000000000000000001", "-1e-18")],
)
def test_one_position_counts_its_loss_only(pnl: str, counted: str) -> None:
    assert counted_pnl(D(pnl)) == D(counted)


@pytest.mark.parametrize(
    ("pnls", "counted"),
    [
        (["-150", "200"], "-150"),  # one gain, one loss: only the loss (not min(0, +50) = 0)
        (["200", "-150"], "-150"),
        (["-150", "-50"], "-200"),  # two losses add up
        (["150", "50"], "0"),  # gains never count
        ([], "0"),
    ],
)
def test_a_gain_on_one_position_never_hides_a_loss_on_another(
    pnls: list[str], counted: str
) -> None:
    symbols = [ETH, BTC][: len(pnls)]
    positions = [position(s, p) for s, p in zip(symbols, pnls, strict=True)]
    assert counted_losses(positions) == D(counted)
    after = with_unrealized_losses(state(*positions))
    assert after.wallets[("swap", "USDT")].unrealized_pnl == D(counted)
    assert after.wallets[("swap", "USDT")].equity == D(1000) + D(counted)
    # the positions themselves keep their own PnL, gains included
    assert {s: p.unrealized_pnl for s, p in after.positions.items()} == {
        s: D(p) for s, p in zip(symbols, pnls, strict=True)
    }


def test_each_wallet_counts_the_losses_of_the_positions_it_margins() -> None:
    before = state(
        position(ETH, "-10"),
        position(SOL, "-3"),
        wallets=(wallet("USDT"), wallet("USDC"), wallet("USDT", account="spot")),
    )
    after = with_unrealized_losses(before)
    assert after.wallets[("swap", "USDT")].unrealized_pnl == D(-10)
    assert after.wallets[("swap", "USDC")].unrealized_pnl == D(-3)
    assert after.wallets[("spot", "USDT")].unrealized_pnl == 0


def test_an_open_position_without_its_wallet_is_refused_not_dropped() -> None:
    with pytest.raises(VenueError) as raised:
        with_unrealized_losses(state(position(ETH, "-10"), wallets=()))
    assert raised.value.kind is ErrorKind.UNTRUSTED
    assert str(raised.value) == (
        "coinw: positions are open on ETH/USDT:USDT but the swap wallet reported no USDT"
    )
