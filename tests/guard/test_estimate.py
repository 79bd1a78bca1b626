"""The guard's estimate between trusted reads: a streamed mark moves each position's PnL and
notional and the cross wallet's equity with it; the check fires on crossing the line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from bot.guard.estimate import HEADROOM, check_reason, estimated_margins, remarked
from bot.model import MarketKind, PerpMarket, Position, State, VenueState, Wallet
from bot.policy.margin import hedge_margins
from tests.markets import ETH_PERP, inverse_perp
from tests.policy.test_policy import hedge

NOW = datetime(2026, 12, 3, tzinfo=UTC)
COINM_PERP = inverse_perp("ETH", "10")


def short(market: PerpMarket, contracts: str, mark: str, upnl: str = "0", **extra) -> Position:  # type: ignore[no-untyped-def]
    size = D(contracts) * market.contract_size
    notional = size * D(mark) if market.kind is MarketKind.LINEAR else size / D(mark)
    return Position(
        symbol=market.symbol,
        side="short",
        contracts=D(contracts),
        contract_size=market.contract_size,
        notional=notional,
        entry_price=D(mark),
        mark_price=D(mark),
        unrealized_pnl=D(upnl),
        **extra,
    )


def venue(market: PerpMarket, position: Position, balance: str) -> VenueState:
    wallet = Wallet(
        account=market.futures_account,
        asset=market.settle,
        free=D(balance),
        used=D(0),
        balance=D(balance),
        unrealized_pnl=position.unrealized_pnl,
        transferable=D(balance),
    )
    return VenueState(
        venue="paper",
        read_at=NOW,
        wallets={(wallet.account, wallet.asset): wallet},
        positions={market.symbol: position},
        markets={market.symbol: market},
    )


def test_a_linear_short_loses_the_move_times_its_size_and_its_notional_grows() -> None:
    read = venue(ETH_PERP, short(ETH_PERP, "2", "2000", upnl="-10"), "1000")
    moved = remarked(read, {ETH_PERP.symbol: D("2200")})
    position = moved.positions[ETH_PERP.symbol]
    assert position.unrealized_pnl == D("-410")  # -10 read, then 2 x 200 against the short
    assert position.notional == D("4400")
    assert moved.wallet("linear", "USDT").equity == D("590")
    assert read.wallet("linear", "USDT").equity == D("990")  # the read itself is unchanged


def test_an_inverse_short_loses_in_the_coin() -> None:
    # 100 contracts of 10 USD: 0.5 ETH of notional at 2000, 0.4 ETH at 2500
    read = venue(COINM_PERP, short(COINM_PERP, "100", "2000"), "1")
    moved = remarked(read, {COINM_PERP.symbol: D("2500")})
    position = moved.positions[COINM_PERP.symbol]
    assert position.notional == D("0.4")
    assert position.unrealized_pnl == D("-0.1")  # 1000 USD x (1/2000 - 1/2500)
    assert moved.wallet("inverse", "ETH").equity == D("0.9")


def test_an_isolated_position_moves_alone_and_the_cross_wallet_stays() -> None:
    position = short(ETH_PERP, "1", "2000", margin_mode="isolated", isolated_wallet=D("300"))
    read = venue(ETH_PERP, position, "1000")
    moved = remarked(read, {ETH_PERP.symbol: D("2100")})
    assert moved.positions[ETH_PERP.symbol].isolated_equity == D("200")
    assert moved.wallet("linear", "USDT").equity == D("1000")


def test_marks_of_other_symbols_and_nonsense_marks_change_nothing() -> None:
    read = venue(ETH_PERP, short(ETH_PERP, "1", "2000"), "1000")
    assert remarked(read, {"BTC/USDT:USDT": D("1"), ETH_PERP.symbol: D("0")}) == read


def test_the_estimate_is_the_guards_own_judgement_at_the_streamed_mark() -> None:
    read = venue(ETH_PERP, short(ETH_PERP, "1", "2000"), "600")  # ratio 0.30
    state = State(read_at=NOW, venues={"paper": read})
    hedges = {"eth": hedge(ETH_PERP.symbol)}
    estimate = estimated_margins(state, "paper", {ETH_PERP.symbol: D("2400")}, hedges)["eth"]
    assert estimate.ratio == D("200") / D("2400")
    assert hedge_margins(state, hedges)["eth"].ratio == D("0.3")


def margin_at(state: State, mark: str) -> object:
    hedges = {"eth": hedge(ETH_PERP.symbol)}
    return estimated_margins(state, "paper", {ETH_PERP.symbol: D(mark)}, hedges)["eth"]


def test_a_check_fires_on_crossing_the_line_not_on_every_tick_under_it() -> None:
    danger = D("0.25")
    read = venue(ETH_PERP, short(ETH_PERP, "1", "2000"), "600")  # ratio 0.30
    state = State(read_at=NOW, venues={"paper": read})
    trusted = hedge_margins(state, {"eth": hedge(ETH_PERP.symbol)})["eth"]
    assert check_reason(trusted, margin_at(state, "2010"), danger) is None  # 0.2935
    # 0.2560: under danger x (1 + headroom): read again before it crosses
    near = margin_at(state, "2070")
    assert near.ratio < danger * (1 + HEADROOM)
    assert "nearing" in (check_reason(trusted, near, danger) or "")
    crossed = margin_at(state, "2100")  # 0.2381
    assert "under 0.25" in (check_reason(trusted, crossed, danger) or "")

    # the last trusted read was itself under the line (a top-up that found no spot to send):
    # the next check waits for the estimate to fall further, not for the next tick
    low = venue(ETH_PERP, short(ETH_PERP, "1", "2000"), "460")  # ratio 0.23
    low_state = State(read_at=NOW, venues={"paper": low})
    low_trusted = hedge_margins(low_state, {"eth": hedge(ETH_PERP.symbol)})["eth"]
    assert check_reason(low_trusted, margin_at(low_state, "2001"), danger) is None
    assert "falling" in (check_reason(low_trusted, margin_at(low_state, "2020"), danger) or "")


def test_a_flat_hedge_never_asks() -> None:
    read = venue(ETH_PERP, short(ETH_PERP, "0", "2000"), "600")
    state = State(read_at=NOW, venues={"paper": read})
    trusted = hedge_margins(state, {"eth": hedge(ETH_PERP.symbol)})["eth"]
    assert check_reason(trusted, margin_at(state, "9000"), D("0.25")) is None
