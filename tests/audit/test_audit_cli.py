"""The audit commands end to end: a real paper-exchange run through ccxt with funding income,
then `bot ledger list/show/summary/export/verify` and `bot report`, in-process."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
from sqlalchemy import text

from bot.config import load_config
from bot.funding.income import collect_funding
from bot.ledger import db
from bot.paper import PaperExchangeThread
from bot.paper.model import now_ms
from bot.paper.routes_income import book_funding
from bot.venues.session import open_venues
from tests.audit.tampering import drop_triggers
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    Invocation,
    bot,
    config_file,
    paper,
    venue_env,
    write_config,
)

Bot = Callable[..., Invocation]
HOUR_MS = 3600 * 1000


@pytest.fixture
def ran(
    paper: PaperExchangeThread,  # noqa: F811
    config_file: Path,  # noqa: F811
    bot: Bot,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A keyed ledger after one rebalance (a confirmed top-up) and two funding payments."""
    monkeypatch.setenv("BOT_LEDGER_KEY", "audit test key")
    assert bot("rebalance", config=config_file).exit_code == 0
    start = now_ms()
    for n in range(2):
        paper.call(lambda n=n: book_funding(paper.store, start + n * 8 * HOUR_MS, "ETHUSDT"))
    config = load_config(config_file)

    async def collect() -> int:
        from bot.ledger import Ledger

        ledger = Ledger.open(config.ledger_url, key=config.ledger_key)
        try:
            async with open_venues(config, dry_run=True) as venues:
                return (await collect_funding(config, ledger, venues)).count
        finally:
            ledger.close()

    assert asyncio.run(collect()) == 2
    return config_file


def test_list_show_and_summary(ran: Path, bot: Bot) -> None:  # noqa: F811
    (row,) = bot("ledger", "list", "--format", "json", config=ran).json()
    assert (row["status"], row["hedges"], row["amount"]) == ("confirmed", ["eth"], "2999.99999999")
    lines = bot("ledger", "list", "--format", "jsonl", "--direction", "to_futures", config=ran)
    (line,) = lines.stdout.splitlines()  # JSON Lines: no header line
    assert json.loads(line)["id"] == row["id"]
    assert bot("ledger", "list", "--direction", "to_spot", "--format", "csv", config=ran).stdout
    assert bot("ledger", "list", "--hedge", "btc", "--json", config=ran).json() == []
    shown = bot("ledger", "show", str(row["id"]), "--json", config=ran).json()
    assert shown["intent"]["rule"] == "top_up" and shown["exchange_id"] == row["exchange_id"]
    assert {b["account"] for b in shown["snapshot"]["balances"]} >= {"spot", "linear"}
    assert shown["snapshot"]["positions"][0]["symbol"] == "ETH/USDT:USDT"
    assert shown["sizing"]["inputs"]["safety"] == "0.99"
    assert [a["outcome"] for a in shown["attempts"]] == ["confirmed"]
    text_view = bot("ledger", "show", str(row["id"]), config=ran)
    assert "intent: rule top_up" in text_view.stdout and "attempts" in text_view.stdout
    summary = bot("ledger", "summary", "--by", "hedge", "--json", config=ran).json()
    (eth,) = summary["groups"]
    usdt = eth["assets"]["USDT"]
    assert usdt["to_futures"] == "2999.99999999"
    assert (usdt["funding_income"], usdt["funding_payments"]) == ("3", 2)  # 1.5 USDT twice
    text_summary = bot("ledger", "summary", config=ran).stdout
    for status in ("confirmed", "failed", "pending", "unknown", "skipped", "dry", "manual"):
        assert status in text_summary, text_summary  # every status has its column
    missing = bot("ledger", "show", "99", config=ran)
    assert missing.exit_code == 2 and "no transfer 99" in missing.stderr
    bad = bot("ledger", "summary", "--by", "year", config=ran)
    assert bad.exit_code == 2 and "--by" in bad.stderr


def test_export_writes_a_file_that_reimports(ran: Path, bot: Bot, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "transfers.csv"
    result = bot("ledger", "export", "--format", "csv", "--out", str(out), config=ran)
    assert result.exit_code == 0 and "exported 1 transfers" in result.stderr
    (row,) = list(csv.DictReader(out.open()))
    assert D(row["amount"]) == D("2999.99999999") and row["amount_tag"] == "0.00000001"
    refused = bot("ledger", "export", "--out", str(tmp_path / "no" / "x.csv"), config=ran)
    assert refused.exit_code == 2 and refused.stderr.startswith("error: --out: cannot write")


def test_verify_against_the_venue_and_after_tampering(
    ran: Path,
    bot: Bot,  # noqa: F811
    paper: PaperExchangeThread,  # noqa: F811
) -> None:
    ok = bot("ledger", "verify", config=ran)
    assert ok.exit_code == 0 and "keyed (HMAC-SHA256), key checked" in ok.stdout
    matched = bot("ledger", "verify", "--against-venue", "binance", "--since", "1d", config=ran)
    assert matched.exit_code == 0, matched.stderr
    assert "matched 1, missing in ledger 0, missing at venue 0" in matched.stdout
    paper.record_outside_transfer("USDT", D("100"), "MAIN_UMFUTURE")  # a move by hand
    outside = bot("ledger", "verify", "--against-venue", "binance", "--since", "1d", config=ran)
    assert outside.exit_code == 1
    assert re.search(r"missing in ledger: venue transfer \d+ 100 USDT", outside.stdout)
    ledger_url = load_config(ran).ledger_url
    engine = db.create_ledger_engine(ledger_url)
    drop_triggers(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE transfers SET amount = '9999'"))
    engine.dispose()
    broken = bot("ledger", "verify", config=ran)
    assert broken.exit_code == 1
    first, totals = broken.stderr.splitlines()
    assert first == "transfer 1: differs from its journal entry"
    assert totals.startswith("transfer_totals: ") and "the transfers say 1 of 9999" in totals


def plotted_layout(page: str, div: str) -> dict:
    """The layout argument of the page's `Plotly.newPlot(div, data, layout, config)`."""
    start = re.search(r'Plotly.newPlot\(\s*"' + div + r'",\s*', page).end()
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(page, start)
    return decoder.raw_decode(page, page.index("{", end))[0]


def test_the_report_is_one_offline_page(ran: Path, bot: Bot, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "report.html"
    result = bot("report", "--out", str(out), "--since", "1d", config=ran)
    assert result.exit_code == 0, result.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert get_plotlyjs() in page  # plotly.js inline...
    rest = page.replace(get_plotlyjs(), "")
    assert not re.search(
        r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", rest
    )  # ...nothing to fetch
    assert rest.count("Plotly.newPlot") == 1
    assert 'id="chart-eth"' in page
    figure = json.loads(
        re.search(r'Plotly.newPlot\(\s*"chart-eth",\s*(\[.*?\]),\s*\{', page, re.S)[1]
    )
    names = {trace["name"] for trace in figure}
    assert {"margin ratio", "band low", "band high", "short notional", "funding rate"} <= names
    assert "cumulative funding income (USDT)" in names
    income = next(t for t in figure if t["name"] == "cumulative funding income (USDT)")
    assert income["y"] == ["1.5", "3"]  # exact text, never through a float
    marks = next(t for t in figure if t["name"] == "transfer to futures")
    assert marks["y"] == ["2999.99999999"]
    # the line the guard acts on, in the chart's terms: alerts.danger_margin_ratio
    danger = next(t for t in figure if t["name"].startswith("danger: the guard acts under"))
    assert danger["y"] == ["0.25", "0.25"] and danger["name"].endswith("margin ratio 0.25")
    assert {"mark price", "liquidation price", "transfer failed", "transfer manual"} <= names
    layout = plotted_layout(page, "chart-eth")
    rates = [D(r) for r in next(t for t in figure if t["name"] == "funding rate")["y"]]
    low, high = (D(v) for v in layout["yaxis5"]["range"])
    assert low < min(rates) and max(rates) < high and high - low < D("0.01")  # not +-100 %
    assert "<h2>transfers</h2>" in page and "<h2>funding income</h2>" in page
    assert "<h2>dry runs and skipped sizings (nothing sent)</h2>" in page
    assert "<h2>alerts</h2>" in page
    unknown = bot("report", "--hedge", "sol", "--out", str(out), config=ran)
    assert unknown.exit_code == 2 and "--hedge" in unknown.stderr
