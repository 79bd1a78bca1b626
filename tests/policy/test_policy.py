"""The policy as tables of cases: state in, plan out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from bot.config import HedgeConfig
from bot.model import (
    MarketKind,
    PerpMarket,
    Position,
    Rule,
    State,
    VenueState,
    Wallet,
)
from bot.policy import plan_transfers
from tests.markets import BTC_PERP, ETH_PERP, inverse_perp

NOW = datetime(2026, 11, 21, tzinfo=UTC)
BTC_INVERSE = inverse_perp("BTC", "100")


def hedge(perp: str = "ETH/USDT:USDT", **overrides: object) -> HedgeConfig:
    values: dict[str, object] = {
        "venue": "paper",
        "spot": "ETH/USDT",
        "perp": perp,
        "target_margin_ratio": "0.5",
        "band": ["0.4", "0.6"],
        "spot_reserve": "0",
    }
    values.update(overrides)
    return HedgeConfig.model_validate(values)


def wallet(
    account: str,
    asset: str,
    balance: str,
    upnl: str = "0",
    free: str | None = None,
    transferable: str | None = None,
) -> Wallet:
    return Wallet(
        account=account,
        asset=asset,
        free=D(free if free is not None else balance),
        used=D(0),
        balance=D(balance),
        unrealized_pnl=D(upnl),
        transferable=D(transferable if transferable is not None else balance),
    )


def short(
    symbol: str,
    notional: str,
    upnl: str = "0",
    *,
    contracts: str = "1",
    contract_size: str = "1",
    mark: str | None = None,
    liquidation: str | None = None,
    maintenance: str | None = None,
) -> Position:
    return Position(
        symbol=symbol,
        side="short",
        contracts=D(contracts),
        contract_size=D(contract_size),
        notional=D(notional),
        entry_price=None,
        mark_price=D(mark) if mark else None,
        unrealized_pnl=D(upnl),
        liquidation_price=D(liquidation) if liquidation else None,
        maintenance_margin=D(maintenance) if maintenance else None,
    )


@dataclass
class Case:
    name: str
    wallets: list[Wallet]
    positions: list[Position]
    hedges: dict[str, HedgeConfig] = field(default_factory=lambda: {"eth": hedge()})
    markets: list[PerpMarket] = field(default_factory=lambda: [ETH_PERP])
    expect: list[tuple[Rule, str, str, str, str]] = field(
        default_factory=list
    )  # rule, asset, from, to, amount
    note: str | None = None


CASES = [
    Case(
        "below band: top up futures from spot to the target",
        [wallet("spot", "USDT", "20000"), wallet("linear", "USDT", "4500")],
        [short("ETH/USDT:USDT", "15000")],
        expect=[(Rule.TOP_UP, "USDT", "spot", "linear", "3000")],
    ),
    Case(
        "unrealized loss counts against equity",
        [wallet("spot", "USDT", "20000"), wallet("linear", "USDT", "7000", upnl="-1500")],
        [short("ETH/USDT:USDT", "15000", upnl="-1500")],
        expect=[(Rule.TOP_UP, "USDT", "spot", "linear", "2000")],
    ),
    Case(
        "inside band: nothing moves",
        [wallet("spot", "USDT", "20000"), wallet("linear", "USDT", "7000")],
        [short("ETH/USDT:USDT", "15000")],
        note="inside band",
    ),
    Case(
        "exactly on the lower bound is inside",
        [wallet("spot", "USDT", "20000"), wallet("linear", "USDT", "6000")],
        [short("ETH/USDT:USDT", "15000")],
        note="inside band",
    ),
    Case(
        "seed: after closing part of the short, return the freed USDT to spot",
        [
            wallet("spot", "USDT", "1000"),
            wallet("spot", "ETH", "1"),
            wallet("linear", "USDT", "7500"),
        ],
        [short("ETH/USDT:USDT", "7500")],  # the short halved from 15000: ratio 1.0
        expect=[(Rule.RETURN_EXCESS, "USDT", "linear", "spot", "3750")],
    ),
    Case(
        "top up never takes spot below the reserve",
        [wallet("spot", "USDT", "2000"), wallet("linear", "USDT", "4500")],
        [short("ETH/USDT:USDT", "15000")],
        hedges={"eth": hedge(spot_reserve="500")},
        expect=[(Rule.TOP_UP, "USDT", "spot", "linear", "1500")],
    ),
    Case(
        "spot at the reserve: a note, no transfer",
        [wallet("spot", "USDT", "500"), wallet("linear", "USDT", "4500")],
        [short("ETH/USDT:USDT", "15000")],
        hedges={"eth": hedge(spot_reserve="500")},
        note="no USDT above the reserve",
    ),
    Case(
        "no position: return the collateral",
        [wallet("spot", "USDT", "0"), wallet("linear", "USDT", "4500")],
        [],
        expect=[(Rule.RETURN_FLAT, "USDT", "linear", "spot", "4500")],
    ),
    Case(
        "no position with when_flat keep: nothing",
        [wallet("spot", "USDT", "0"), wallet("linear", "USDT", "4500")],
        [],
        hedges={"eth": hedge(when_flat="keep")},
        note="when_flat: keep",
    ),
    Case(
        "amounts are rounded down to the venue's step",
        [wallet("spot", "USDT", "20000"), wallet("linear", "USDT", "4500.123456789")],
        [short("ETH/USDT:USDT", "15000.3333333333")],
        expect=[(Rule.TOP_UP, "USDT", "spot", "linear", "3000.0432")],
    ),
    Case(
        "inverse hedge works in the coin",
        [wallet("spot", "BTC", "1"), wallet("inverse", "BTC", "0.1")],
        [short("BTC/USD:BTC", "0.5")],
        hedges={"btc": hedge(perp="BTC/USD:BTC", spot="BTC/USDT")},
        markets=[BTC_INVERSE],
        expect=[(Rule.TOP_UP, "BTC", "spot", "inverse", "0.15")],
    ),
    Case(
        "two hedges on one cross wallet are one pool: one transfer for both",
        [wallet("spot", "USDT", "20000"), wallet("linear", "USDT", "6000")],
        [short("ETH/USDT:USDT", "10000"), short("BTC/USDT:USDT", "10000")],
        hedges={"eth": hedge(), "btc": hedge(perp="BTC/USDT:USDT", spot="BTC/USDT")},
        markets=[ETH_PERP, BTC_PERP],
        expect=[(Rule.TOP_UP, "USDT", "spot", "linear", "4000")],
    ),
    Case(
        "scarce spot goes first to the pool nearest liquidation",
        [
            wallet("spot", "USDT", "1000"),
            wallet("linear", "USDT", "1000"),
            wallet("inverse", "USDT", "3000"),
        ],
        [short("ETH/USDT:USDT", "10000"), short("BTC/USD:BTC", "10000")],
        hedges={"eth": hedge(), "btc": hedge(perp="BTC/USD:BTC", spot="BTC/USDT")},
        markets=[
            ETH_PERP,
            PerpMarket(
                symbol="BTC/USD:BTC",
                kind=MarketKind.INVERSE,
                base="BTC",
                quote="USD",
                settle="USDT",
                contract_size=D(1),
                futures_account="inverse",
            ),
        ],
        expect=[(Rule.TOP_UP, "USDT", "spot", "linear", "1000")],
        note="no USDT above the reserve",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy_table(case: Case) -> None:
    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={(w.account, w.asset): w for w in case.wallets},
        positions={p.symbol: p for p in case.positions},
        markets={m.symbol: m for m in case.markets},
        transfer_steps={"USDT": D("0.00001"), "BTC": D("0.00000001")},
    )
    plan = plan_transfers(State(read_at=NOW, venues={"paper": venue}), case.hedges)
    got = [(t.rule, t.asset, t.from_account, t.to_account, t.amount) for t in plan.transfers]
    assert got == [(r, a, f, t, D(x)) for r, a, f, t, x in case.expect]
    for item in plan.transfers:
        assert (item.reason and "margin_ratio" in item.figures) or item.rule == Rule.RETURN_FLAT
    if case.note:
        assert any(case.note in n.message for n in plan.notes), [n.message for n in plan.notes]


def test_missing_market_is_a_note_not_a_crash() -> None:
    venue = VenueState(venue="paper", read_at=NOW)
    plan = plan_transfers(State(read_at=NOW, venues={"paper": venue}), {"eth": hedge()})
    assert plan.transfers == ()
    assert "nothing planned" in plan.notes[0].message


def test_reason_carries_the_numbers() -> None:
    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={
            ("spot", "USDT"): wallet("spot", "USDT", "20000"),
            ("linear", "USDT"): wallet("linear", "USDT", "4500"),
        },
        positions={"ETH/USDT:USDT": short("ETH/USDT:USDT", "15000")},
        markets={ETH_PERP.symbol: ETH_PERP},
    )
    (item,) = plan_transfers(
        State(read_at=NOW, venues={"paper": venue}), {"eth": hedge()}
    ).transfers
    assert "0.3000" in item.reason and "[0.4, 0.6]" in item.reason and "3000 USDT" in item.reason
    assert item.figures["margin_ratio"] == D("0.3") and item.figures["equity"] == D(4500)
