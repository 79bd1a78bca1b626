"""Bybit's Unified Trading Account and OKX's trading account end to end (issue 27): the bot's
CLI against each venue's loopback fake, the hedge judged in the account's own figure
(`accountMMRate`, lower is safer; `mgnRatio`, higher is safer) with its reserve in the funding
wallet. The amounts are the policy's formula worked out here from the fake's own answer
(Bybit: equity `totalMarginBalance`, requirement `totalMaintenanceMargin`; OKX: `adjEq` and
`mmr`), and the fake's wallets move by exactly them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.scheduler.runner import run_job
from tests.protective.unified_rig import (
    VENUES,
    Bot,
    Side,
    assert_one_to_one,
    rows,
    running,
    set_env,
)

#: USDT moves in the venue's own step (Bybit's coin accuracy 8, OKX's 6: the fakes' tables)
STEPS = {"bybit": D("0.00000001"), "okx": D("0.000001")}


@dataclass(frozen=True)
class Terms:
    """A hedge's terms in its venue's figure, and where the figure sits for each case."""

    figure: str
    target: D
    band: tuple[D, D]
    danger: D  # beyond the band on the liquidation side
    safe: D  # beyond it on the safe side
    higher_is_safer: bool

    def equity_at(self, figure: D, requirement: D) -> D:
        """The equity that puts the account's figure at `figure`."""
        return figure * requirement if self.higher_is_safer else requirement / figure


TERMS = {
    "bybit": Terms("accountMMRate", D("0.10"), (D("0.05"), D("0.15")), D("0.2"), D("0.03"), False),
    "okx": Terms("mgnRatio", D("8"), (D("5"), D("12")), D("3"), D("20"), True),
}


@pytest.fixture(params=VENUES)
def side(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Side]:
    set_env(monkeypatch, request.param)
    yield from running(request.param)


def hedge(side: Side, **change: Any) -> dict[str, Any]:
    terms = TERMS[side.name]
    found = {
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "reserve_wallet": "funding",
        "target": {terms.figure: str(terms.target)},
        "band": [str(b) for b in terms.band],
        "spot_reserve": "0",
    }
    found.update(change)
    return {k: v for k, v in found.items() if v is not None}


@pytest.fixture
def config(side: Side, tmp_path: Path) -> Path:
    return side.write(tmp_path, side.fake.base_url, hedges={"btc": hedge(side)})


def account_figures(side: Side) -> tuple[D, D]:
    """The account's equity and maintenance requirement as the venue's answer writes them."""
    with side.account.lock:
        if side.name == "bybit":
            (row,) = side.account.wallet_balance(None)["list"]
            return D(row["totalMarginBalance"]), D(row["totalMaintenanceMargin"])
        answer = side.account.balance(None, side.fake.now())
        return D(answer["adjEq"]), D(answer["mmr"])


def stress(side: Side) -> None:
    """A big ETH short beside the hedge, at its own mark (no P&L) and 100x: the account's
    maintenance requirement is then large enough for the figure to reach any side of the band
    with the hedge's 0.5 BTC (31000 USD of collateral) and a non-negative USDT balance; the
    reserve holds enough for any top-up here."""
    with side.account.lock:
        if side.name == "bybit":
            (eth,) = [p for p in side.account.positions if p.symbol == "ETHUSDT"]
            eth.size, eth.avg_price, eth.leverage = D("400"), D("3100"), D("100")
            side.account.fund["USDT"] = D("100000")
        else:
            (eth,) = [p for p in side.account.positions if p.inst_id == "ETH-USDT-SWAP"]
            eth.pos, eth.avg_px, eth.lever = D("-8500"), D("3100"), D("100")
            side.account.funding["USDT"] = D("100000")


def put_figure_at(side: Side, figure: D) -> None:
    """The account's equity moved (its USDT cash) so that its figure is `figure`."""
    terms = TERMS[side.name]
    stress(side)
    with side.account.lock:
        _, requirement = account_figures(side)
        equity = terms.equity_at(figure, requirement)
        if side.name == "bybit":
            side.account.set_margin_balance(equity)
        else:
            side.account.set_adj_eq(equity)


def down(value: D, side: Side) -> D:
    step = STEPS[side.name]
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def pool_transferable(side: Side, bot: Bot, config: Path) -> D:
    """What the bot read may leave the unified account (the sweep's cap)."""
    read = bot("balances", "--json", config=config)
    assert read.exit_code == 0, read.stdout + read.stderr
    wallets = read.json()["venues"][side.name]["wallets"]
    (usdt,) = [w for w in wallets if w["account"] == side.pool and w["asset"] == "USDT"]
    return D(usdt["transferable"])


# plan and rebalance ---------------------------------------------------------------------------


def test_a_figure_beyond_the_band_on_the_liquidation_side_is_topped_up_from_the_reserve(
    side: Side, config: Path, bot: Bot
) -> None:
    terms = TERMS[side.name]
    put_figure_at(side, terms.danger)
    equity, requirement = account_figures(side)
    expected = down(terms.equity_at(terms.target, requirement) - equity, side)
    assert expected > 0
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert side.sent() == []  # a plan moves nothing
    reserve, pool = side.reserve_usdt(), side.pool_usdt()
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    (sent,) = side.sent()
    assert sent.amount == expected and sent.status == "success"
    assert (side.reserve_usdt(), side.pool_usdt()) == (reserve - expected, pool + expected)
    (row,) = rows(bot, config)
    assert (row["rule"], row["from_account"], row["to_account"]) == (
        "top_up",
        side.reserve,
        side.pool,
    )
    assert_one_to_one(side, bot, config)
    again = bot("plan", config=config)
    assert "nothing to move" in again.stdout, again.stdout


def test_a_figure_beyond_the_band_on_the_safe_side_is_swept_to_the_reserve(
    side: Side, config: Path, bot: Bot
) -> None:
    terms = TERMS[side.name]
    put_figure_at(side, terms.safe)
    equity, requirement = account_figures(side)
    excess = equity - terms.equity_at(terms.target, requirement)
    may_leave = pool_transferable(side, bot, config)
    expected = down(min(excess, may_leave), side)
    assert expected > 0
    reserve, pool = side.reserve_usdt(), side.pool_usdt()
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    (sent,) = side.sent()
    assert sent.amount == expected
    assert (side.reserve_usdt(), side.pool_usdt()) == (reserve + expected, pool - expected)
    (row,) = rows(bot, config)
    assert (row["rule"], row["from_account"], row["to_account"]) == (
        "return_excess",
        side.pool,
        side.reserve,
    )
    assert_one_to_one(side, bot, config)


def test_inside_the_band_nothing_moves(side: Side, config: Path, bot: Bot) -> None:
    put_figure_at(side, TERMS[side.name].target)
    plan = bot("plan", config=config)
    assert plan.exit_code == 0 and "nothing to move" in plan.stdout, plan.stdout
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert side.sent() == [] and side.fake.count("POST", side.transfer_path) == 0


def test_a_flat_account_returns_what_may_leave_it(side: Side, config: Path, bot: Bot) -> None:
    with side.account.lock:
        side.account.positions.clear()
        # no short, no spot leg: the hedge is flat
        (side.account.unified if side.name == "bybit" else side.account.trading)["BTC"] = D(0)
    may_leave = pool_transferable(side, bot, config)
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    (sent,) = side.sent()
    assert may_leave > 0 and sent.amount == down(may_leave, side)  # all of it: the read covers it
    (row,) = rows(bot, config)
    assert row["rule"] == "return_flat" and row["to_account"] == side.reserve
    assert_one_to_one(side, bot, config)


def test_the_top_up_is_capped_by_the_reserve_above_its_floor(
    side: Side, tmp_path: Path, bot: Bot
) -> None:
    terms = TERMS[side.name]
    put_figure_at(side, terms.danger)
    with side.account.lock:
        (side.account.fund if side.name == "bybit" else side.account.funding)["USDT"] = D("700")
    config = side.write(
        tmp_path, side.fake.base_url, hedges={"btc": hedge(side, spot_reserve="200")}
    )
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    (sent,) = side.sent()
    assert sent.amount == D("500")  # all the reserve has above its floor (the fresh read: 700)
    assert side.reserve_usdt() == D("200")


# the guard ------------------------------------------------------------------------------------


async def test_the_guard_tops_up_when_the_figure_leaves_the_band_on_its_dangerous_side(
    side: Side, config: Path
) -> None:
    loaded = load_config(config)
    ledger = Ledger.open(loaded.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), loaded.alerts)
        lines: list[str] = []
        ctx = JobContext(config=loaded, ledger=ledger, alerter=alerter, say=lines.append)
        put_figure_at(side, TERMS[side.name].target)
        await run_job("guard", ctx, None)
        assert side.sent() == []  # inside the band: the guard only looks
        terms = TERMS[side.name]
        put_figure_at(side, terms.danger)
        equity, requirement = account_figures(side)
        expected = down(terms.equity_at(terms.target, requirement) - equity, side)
        await run_job("guard", ctx, None)
        (sent,) = side.sent()
        assert sent.amount == expected and (sent.source, sent.target) in {
            ("FUND", "UNIFIED"),
            ("6", "18"),
        }
        assert lines and "guard" in lines[-1], lines
    finally:
        ledger.close()


# refusals -------------------------------------------------------------------------------------


def refused(side: Side, bot: Bot, config: Path, *words: str) -> None:
    """`bot rebalance` refuses at connect: exit 2, one line naming the fix, nothing sent."""
    result = bot("rebalance", config=config)
    assert result.exit_code == 2, result.stdout + result.stderr
    said = [line for line in (result.stdout + result.stderr).splitlines() if "error" in line]
    assert len(said) == 1, result.stdout + result.stderr
    for word in words:
        assert word in said[0], said
    assert side.fake.count("POST", side.transfer_path) == 0 and side.sent() == []


def test_a_hedge_without_a_reserve_is_refused_in_one_line(
    side: Side, tmp_path: Path, bot: Bot
) -> None:
    put_figure_at(side, TERMS[side.name].danger)
    config = side.write(
        tmp_path, side.fake.base_url, hedges={"btc": hedge(side, reserve_wallet=None)}
    )
    refused(side, bot, config, "set reserve_wallet: funding")


def test_a_target_in_the_other_venues_figure_is_refused_in_one_line(
    side: Side, tmp_path: Path, bot: Bot
) -> None:
    put_figure_at(side, TERMS[side.name].danger)
    other = TERMS["okx" if side.name == "bybit" else "bybit"]
    wrong = hedge(
        side,
        target={other.figure: str(other.target)},
        band=[str(b) for b in other.band],
    )
    config = side.write(tmp_path, side.fake.base_url, hedges={"btc": wrong})
    refused(side, bot, config, other.figure, TERMS[side.name].figure)


def test_a_bybit_classic_account_is_refused_in_one_line(
    tmp_path: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, "bybit")
    for side in running("bybit"):
        with side.account.lock:
            side.account.unified_margin_status = 1
        config = side.write(tmp_path, side.fake.base_url, hedges={"btc": hedge(side)})
        refused(side, bot, config, "classic account", "upgrade the account to UTA 2.0")


# OKX single-currency margin: the settle currency's own ratio --------------------------------


@pytest.fixture
def okx_single(monkeypatch: pytest.MonkeyPatch) -> Iterator[Side]:
    set_env(monkeypatch, "okx")
    for found in running("okx"):
        with found.account.lock:
            found.account.acct_lv = "2"  # Spot and futures mode
        yield found


def usdt_detail(side: Side) -> dict[str, Any]:
    with side.account.lock:
        answer = side.account.balance(None, side.fake.now())
    (row,) = [row for row in answer["details"] if row["ccy"] == "USDT"]
    return row


def test_okx_single_currency_margin_tops_up_to_the_usdt_ratio_and_says_the_coin_is_no_collateral(
    okx_single: Side, tmp_path: Path, bot: Bot
) -> None:
    side = okx_single
    stress(side)
    with side.account.lock:
        # USDT's own ratio: its equity over its positions' maintenance (fees 0 in the fake)
        side.account.trading["USDT"] += 3 * side.account.cross_mmr("USDT") - side.account.eq("USDT")
    row = usdt_detail(side)
    equity, ratio = D(row["eq"]), D(row["mgnRatio"])
    assert D("2.99") < ratio < D("3.01")
    expected = down(D(8) * (equity / ratio) - equity, side)
    config = side.write(tmp_path, side.fake.base_url, hedges={"btc": hedge(side)})
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "single-currency margin the spot coin is not collateral" in plan.stdout, plan.stdout
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    (sent,) = side.sent()
    assert sent.amount == expected and sent.status == "success"
    assert_one_to_one(side, bot, config)
    again = usdt_detail(side)
    assert D("7.99") < D(again["mgnRatio"]) < D("8.01")
    status = bot("status", config=config)
    assert "single-currency margin the spot coin is not collateral" in status.stdout, status.stdout


def test_the_report_charts_the_accounts_own_figure_with_its_band_edge(
    side: Side, config: Path, bot: Bot
) -> None:
    import json
    import re

    terms = TERMS[side.name]
    put_figure_at(side, terms.danger)
    assert bot("rebalance", config=config).exit_code == 0
    page_file = config.parent / "report.html"
    assert bot("report", "--out", str(page_file), config=config).exit_code == 0
    page = page_file.read_text()
    start = re.search(r'Plotly.newPlot\(\s*"chart-btc",\s*', page).end()
    traces, _ = json.JSONDecoder().raw_decode(page, start)
    names = {trace["name"] for trace in traces}
    assert terms.figure in names, names
    edge = terms.band[1] if not terms.higher_is_safer else terms.band[0]
    (danger,) = [t for t in traces if t["name"].startswith("danger: the guard acts beyond")]
    assert [D(v) for v in danger["y"]] == [edge, edge], danger
