"""Fault campaign: many random transfers against the paper exchange, with random faults and
crashes, then a count of what the ledger and the exchange agree on.

    python -m bench.fault_campaign [--transfers 1000] [--seed 1]

Prints transfers tried, faults injected by kind, crashes by point, duplicates (an intent the
exchange applied twice; must be 0), records lost (an exchange transfer no confirmed ledger row
holds, or a confirmed row the exchange lacks; must be 0), and the wall time.

Every intent gets an amount no other intent has, so a transfer applied twice shows up in the
exchange's own history as a repeated amount, independently of the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bot import failpoints
from bot.config import parse_config
from bot.executor import Executor
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.model import PlannedTransfer, Rule, TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.paper.model import FuturesBalance, SpotBalance, default_state
from bot.reconcile import Reconciler
from bot.retry import RetryPolicy, Timing
from bot.venues.session import open_venues

KEY_ENV, SECRET_ENV = "CAMPAIGN_KEY", "CAMPAIGN_SECRET"
CLIENT_TIMEOUT_MS = 100
HANG_SECONDS = 0.12

FAULT_KINDS = {  # kind -> weight; "none" most of the time
    "none": 60,
    "http_500_before": 5,
    "http_500_after": 5,
    "http_429": 5,
    "timeout_before": 3,
    "timeout_after": 3,
    "reset_after": 5,
    "clock_-1021": 4,
    "pnl_moved_-5013": 10,
}
CRASH_RATE = 0.04
ENTRY_PRICE = Decimal("3000")


@dataclass
class CampaignReport:
    transfers_tried: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    exchange_transfers: int = 0
    duplicates: int = 0
    records_lost: int = 0
    sums_agree: bool = False
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"transfers tried:     {self.transfers_tried}",
            f"faults injected:     {sum(self.faults.values())} {_by_kind(self.faults)}",
            f"crashes:             {sum(self.crashes.values())} {_by_kind(self.crashes)}",
            f"ledger rows:         {dict(sorted(self.statuses.items()))}",
            f"exchange transfers:  {self.exchange_transfers}",
            f"duplicates found:    {self.duplicates}",
            f"records lost:        {self.records_lost}",
            f"sums per direction:  {'agree' if self.sums_agree else 'DISAGREE'}",
            f"wall time:           {self.seconds:.1f} s",
        ]


def _by_kind(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))


class _NoWait:
    """Backoff sleeps are skipped (the policy is tested elsewhere); the clock still moves."""

    def __init__(self) -> None:
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _campaign_state():  # type: ignore[no-untyped-def]
    state = default_state()
    return dataclasses.replace(
        state,
        spot={**state.spot, "USDT": SpotBalance(free=Decimal("200000"))},
        usdm={"USDT": FuturesBalance(wallet_balance=Decimal("20000"), update_time=0)},
    )


async def run_campaign(transfers: int, seed: int, workdir: Path) -> CampaignReport:
    rng = random.Random(seed)
    report = CampaignReport()
    os.environ[KEY_ENV], os.environ[SECRET_ENV] = PAPER_API_KEY, PAPER_SECRET
    started = time.perf_counter()
    # The exchange's own durability is not under test here (the crash tests cover it): keep
    # its state in memory. The ledger is a real SQLite file with every fsync.
    store = StateStore(None, initial=_campaign_state())
    async with PaperExchange(store, test_hooks=True) as paper:
        import ccxt

        urls = {
            k: v
            for k, v in binance_urls(paper.base_url, ccxt.binance().urls["api"]).items()
            if isinstance(v, str)
        }
        config = parse_config(
            {
                "ledger": {"url": "sqlite:///ledger.sqlite"},
                "transfers": {"min_amount": "1", "settle_window_seconds": 0},
                "venues": {
                    "binance": {
                        "exchange": "binance",
                        "api_key_env": KEY_ENV,
                        "secret_env": SECRET_ENV,
                        "urls": urls,
                        "ccxt": {"enableRateLimit": False, "timeout": CLIENT_TIMEOUT_MS},
                    }
                },
                "hedges": {},
            },
            base_dir=workdir,
        )
        ledger = Ledger.open(config.ledger_url)
        no_wait = _NoWait()
        timing = Timing(sleep=no_wait.sleep, monotonic=no_wait.monotonic, rng=rng)
        async with open_venues(config, dry_run=False, timing=timing) as venues:
            venues["binance"].client.timeout_on_exit = 0
            executor = Executor(
                venues,
                ledger,
                config.transfers,
                dry_run=False,
                policy=RetryPolicy(attempts=4, deadline_seconds=60),
                timing=timing,
            )
            reconciler = Reconciler(venues, ledger, settle_window=_zero())
            run_id = ledger.start_run("campaign", dry_run=False, config_digest=str(seed))
            for number in range(transfers):
                await reconciler.reconcile()  # what a restart does first
                item = _random_transfer(rng, number, paper)
                _inject_fault(rng, paper, item, report)
                if rng.random() < CRASH_RATE:
                    point = rng.choice(failpoints.ALL)
                    failpoints.arm(point)
                try:
                    await executor.execute(run_id, (item,))
                except failpoints.SimulatedCrash as crash:
                    report.crashes[str(crash)] += 1
                finally:
                    failpoints.disarm_all()
                    paper.faults.clear()
                    paper.set_mark_price("ETHUSDT", ENTRY_PRICE)  # the rally was a blip
                report.transfers_tried += 1
            await reconciler.reconcile()
        _count(report, ledger, paper)
        ledger.close()
    report.seconds = time.perf_counter() - started
    return report


def _zero():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(0)


def _random_transfer(rng: random.Random, number: int, paper: PaperExchange) -> PlannedTransfer:
    """A move in a random direction, toward whichever wallet is poorer, with an amount that
    no other intent has (its last decimals carry the intent number)."""
    state = paper.state
    spot = state.spot["USDT"].free
    futures = state.usdm["USDT"].wallet_balance
    to_futures = spot > futures if rng.random() < 0.8 else rng.random() < 0.5
    amount = Decimal(rng.randint(10, 2000)) + Decimal(number + 1) / Decimal(10**6)
    return PlannedTransfer(
        venue="binance",
        hedges=("campaign",),
        asset="USDT",
        from_account="spot" if to_futures else "linear",
        to_account="linear" if to_futures else "spot",
        amount=amount,
        rule=Rule.TOP_UP if to_futures else Rule.RETURN_EXCESS,
        reason=f"campaign transfer {number}",
        figures={},
    )


def _inject_fault(
    rng: random.Random, paper: PaperExchange, item: PlannedTransfer, report: CampaignReport
) -> None:
    kinds, weights = zip(*FAULT_KINDS.items(), strict=True)
    kind = rng.choices(kinds, weights)[0]
    if kind == "none" or (kind == "pnl_moved_-5013" and item.from_account == "spot"):
        return
    report.faults[kind] += 1
    if kind == "clock_-1021":
        paper.faults.add("error", status=400, code=-1021, msg="Timestamp outside recvWindow.")
    elif kind == "pnl_moved_-5013":
        # Between the fresh read and the transfer the price rallies and the short loses, so
        # that only part of the amount is still transferable: Binance answers -5013.
        price = _price_leaving_transferable(paper, item.amount * Decimal(rng.uniform(0.2, 0.9)))
        paper.faults.add("move_price_before", symbol="ETHUSDT", price=str(price))
    else:
        paper.faults.add(kind, hang=HANG_SECONDS)


def _price_leaving_transferable(paper: PaperExchange, left: Decimal) -> Decimal:
    """The ETH mark at which the USD-M wallet can transfer out only `left`, from Binance's
    cross-margin rule: wallet + uPnL(loss) - initial margin = left, for the one short."""
    state = paper.state
    (short,) = [p for p in state.positions if p.symbol == "ETHUSDT" and p.kind == "linear"]
    size = abs(short.amount)
    wallet = state.usdm["USDT"].wallet_balance
    # left = wallet - size * (P - entry) - size * P / leverage
    denominator = size * (1 + Decimal(1) / short.leverage)
    return ((wallet + size * short.entry_price - left) / denominator).quantize(Decimal("0.01"))


def _count(report: CampaignReport, ledger: Ledger, paper: PaperExchange) -> None:
    rows = list_transfers(ledger, TransferFilter())
    report.statuses = Counter(r.status.value for r in rows)
    exchange = list(paper.state.transfers)
    report.exchange_transfers = len(exchange)
    amounts = Counter((t.type, t.amount) for t in exchange)
    report.duplicates = sum(n - 1 for n in amounts.values() if n > 1)
    confirmed = {r.exchange_id: r for r in rows if r.status is TransferStatus.CONFIRMED}
    on_exchange = {str(t.tran_id): t for t in exchange}
    lost = set(on_exchange) ^ set(confirmed)
    wrong = [
        i for i in set(on_exchange) & set(confirmed) if confirmed[i].amount != on_exchange[i].amount
    ]
    report.records_lost = len(lost) + len(wrong)
    direction = {"MAIN_UMFUTURE": ("spot", "linear"), "UMFUTURE_MAIN": ("linear", "spot")}
    sums_exchange: Counter[tuple[str, str]] = Counter()
    for t in exchange:
        sums_exchange[direction[t.type]] += t.amount  # type: ignore[assignment]
    sums_ledger: Counter[tuple[str, str]] = Counter()
    for r in confirmed.values():
        sums_ledger[(r.from_account, r.to_account)] += r.amount  # type: ignore[assignment]
    report.sums_agree = sums_exchange == sums_ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        report = asyncio.run(run_campaign(args.transfers, args.seed, Path(workdir)))
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
