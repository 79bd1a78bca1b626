"""Fault campaign: many random transfers against the paper exchange, with random faults and
crashes, then a count of what the ledger and the exchange agree on.

    python -m bench.fault_campaign [--transfers 1000] [--seed 1]

Prints transfers tried, faults injected by kind, crashes by point, duplicates (an intent the
exchange applied twice; must be 0), records lost (an exchange transfer no confirmed ledger row
holds, or a confirmed row the exchange lacks; must be 0), rows left unknown because their
history was ambiguous (and so blocking their venue/asset), and the wall time.

The faults: on the transfer call, 500/429/hangs/resets/-1021/-5013, every 5xx with one of
Binance's "status unknown" codes and 200 with a body that proves nothing (each before or after
the exchange applied it); on the reconcile path, a history answer that cannot be read or that
ignores paging (the transfer's answer is lost, and the next reconcile hears the bad history);
and transfers the user makes by hand that look like the bot's lost one (same amount, untagged
or exact, a minute before the intent or just after its attempt), which the agreement leaves out.

Every intent gets an amount no other intent has, so a transfer applied twice shows up in the
exchange's own history as a repeated amount, independently of the ledger. The same harness
drives the hypothesis state machine in tests/reliability/test_stateful.py.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import ccxt

from bot import bootstrap
from bot.config import parse_config
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.model import PlannedTransfer, Rule, TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.paper.model import FuturesBalance, PaperState, SpotBalance, default_state
from bot.paper.wire import BinanceError
from bot.runtime import failpoints
from bot.runtime.retry import Timing
from bot.transfers.services import Services
from bot.venues.session import open_venues

KEY_ENV, SECRET_ENV = "CAMPAIGN_KEY", "CAMPAIGN_SECRET"
CLIENT_TIMEOUT_MS = 100
HANG_SECONDS = 0.12  # longer than the client timeout: the answer is lost
ENTRY_PRICE = Decimal("3000")
DIRECTIONS = {"MAIN_UMFUTURE": ("spot", "linear"), "UMFUTURE_MAIN": ("linear", "spot")}
TYPES = {accounts: name for name, accounts in DIRECTIONS.items()}
HISTORY_PATH = "/sapi/v1/asset/transfer"

FAULT_KINDS = {  # kind -> weight; "none" most of the time
    "none": 50,
    "http_500_before": 5,
    "http_500_after": 5,
    "http_429": 5,
    "timeout_before": 3,
    "timeout_after": 3,
    "reset_after": 5,
    "clock_-1021": 4,
    "pnl_moved_-5013": 10,
    "5xx_code_before": 3,  # 500/502/503/504 x a "status unknown" code, nothing applied
    "5xx_code_after": 3,  # the same answer after the exchange applied it
    "garbage_200_before": 3,  # 200 with a body that proves nothing, nothing applied
    "garbage_200_after": 3,  # the same after applying
    "history_garbage": 3,  # answer lost; the next reconcile's history cannot be read
    "history_paging_ignored": 2,  # answer lost; the next history ignores `current`
    "lookalike_before": 3,  # answer lost; the user moved the same amount a minute before
    "lookalike_after": 3,  # answer lost; the user moved the untagged amount just after
}
CRASH_RATE = 0.04
UNKNOWN_CODES = (-1000, -1001, -1006, -1007, -1008, -1016, -9000)
SERVER_ERRORS = (500, 502, 503, 504)
GARBAGE_BODIES = (
    ("", "application/json"),
    ("<html><body>maintenance</body></html>", "text/html"),
    ('{"tranId": 12', "application/json"),
    ("{}", "application/json"),
    ("[]", "application/json"),
    ('{"tranId": null}', "application/json"),
    (
        '{"code": -1001, "msg": "Internal error; unable to process your request."}',
        "application/json",
    ),
)
HISTORY_GARBAGE = (
    ("<html>maintenance</html>", "text/html"),
    ("", "application/json"),
    ('{"total":1}', "application/json"),
    ('{"total":1,"rows":[{"tranId":', "application/json"),
    ('{"total":1,"rows":"none"}', "application/json"),
)
PAGING_GUARD = 20  # a bot that pages forever gets the real history after this many pages


@dataclass
class Agreement:
    """What the ledger and the exchange's own history say, side by side."""

    statuses: Counter[str]
    exchange_transfers: int
    duplicates: int  # an amount the exchange applied more than once
    records_lost: int  # on one side only, or with different amounts
    sums_agree: bool  # per direction
    open_rows: int  # pending or unknown
    shrinks: int  # new, smaller intents after a definite insufficient-balance answer
    ambiguous: int = 0  # left unknown because the history held more than one candidate
    outside: int = 0  # transfers the user made by hand (left out of the comparison)


@dataclass
class CampaignReport:
    transfers_tried: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    agreement: Agreement | None = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        a = self.agreement
        assert a is not None
        return [
            f"transfers tried:     {self.transfers_tried}",
            f"faults injected:     {sum(self.faults.values())} ({_by_kind(self.faults)})",
            f"crashes:             {sum(self.crashes.values())} ({_by_kind(self.crashes)})",
            f"ledger rows:         {_by_kind(a.statuses)}; {a.shrinks} shrunk after -5013",
            f"exchange transfers:  {a.exchange_transfers}",
            f"duplicates found:    {a.duplicates}",
            f"records lost:        {a.records_lost}",
            f"ambiguous, blocked:  {a.ambiguous} (left unknown)",
            f"outside transfers:   {a.outside} (by hand, left out of the comparison)",
            f"sums per direction:  {'agree' if a.sums_agree else 'DISAGREE'}",
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


def campaign_state() -> PaperState:
    """Room to move in both directions: 200k USDT spot, 20k USDT against a 5 ETH short."""
    state = default_state()
    return dataclasses.replace(
        state,
        spot={**state.spot, "USDT": SpotBalance(free=Decimal("200000"))},
        usdm={"USDT": FuturesBalance(wallet_balance=Decimal("20000"), update_time=0)},
    )


class Harness:
    """A paper exchange, a real SQLite ledger, and the bot's executor and reconciler wired
    to a binance venue that reaches the exchange only over HTTP."""

    def __init__(self, workdir: Path, rng: random.Random) -> None:
        self.workdir = workdir
        self.rng = rng
        self.number = 0
        self.outside: set[int] = set()  # tranIds of the user's own transfers
        self._after: tuple[str, PlannedTransfer] | None = None  # what to do once executed
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Harness:
        os.environ[KEY_ENV], os.environ[SECRET_ENV] = PAPER_API_KEY, PAPER_SECRET
        # The exchange's own durability is not under test here (the crash tests cover it):
        # its state stays in memory. The ledger is a real SQLite file with every fsync.
        # Hundreds of transfers a minute is more than Binance's UID limit allows (180000 weight
        # per minute, 900 a transfer: 200); the campaign tests faults, not pacing, so the paper
        # counts weight but refuses nothing for it (its -1003 faults still fire).
        self.paper = await self._stack.enter_async_context(
            PaperExchange(
                StateStore(None, initial=campaign_state()),
                test_hooks=True,
                enforce_weight_limits=False,
            )
        )
        urls = binance_urls(self.paper.base_url, ccxt.binance().urls["api"])
        config = parse_config(
            {
                "ledger": {"url": "sqlite:///ledger.sqlite"},
                "transfers": {"min_amount": "1", "settle_window_seconds": 0},
                "retry": {"attempts": 4, "deadline_seconds": 60},
                "venues": {
                    "binance": {
                        "exchange": "binance",
                        "api_key_env": KEY_ENV,
                        "secret_env": SECRET_ENV,
                        "urls": {k: v for k, v in urls.items() if isinstance(v, str)},
                        "ccxt": {"enableRateLimit": False, "timeout": CLIENT_TIMEOUT_MS},
                    }
                },
                "hedges": {},
            },
            base_dir=self.workdir,
        )
        self.ledger = bootstrap.open_ledger(config)
        self._stack.callback(self.ledger.close)
        no_wait = _NoWait()
        timing = Timing(sleep=no_wait.sleep, monotonic=no_wait.monotonic, rng=self.rng)
        venues = await self._stack.enter_async_context(
            open_venues(config, dry_run=False, timing=timing)
        )
        venues["binance"].client.timeout_on_exit = 0
        # This paper exchange lets the campaign send faster than Binance allows on purpose
        # (`enforce_weight_limits=False`): the venue limiter would pace it to Binance's minute.
        venues["binance"].client.bot_limiter = None
        services = Services(config, self.ledger, timing=timing)
        self.executor = services.executor(venues, dry_run=False)
        self.reconciler = services.reconciler(venues)
        self.run_id = self.ledger.start_run("campaign", dry_run=False, config_digest="-")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def transfer(self, to_futures: bool, whole: int) -> PlannedTransfer:
        """A planned move whose amount no other intent has (its last decimals count intents)."""
        self.number += 1
        return PlannedTransfer(
            venue="binance",
            hedges=("campaign",),
            asset="USDT",
            from_account="spot" if to_futures else "linear",
            to_account="linear" if to_futures else "spot",
            amount=Decimal(whole) + Decimal(self.number) / Decimal(10**6),
            rule=Rule.TOP_UP if to_futures else Rule.RETURN_EXCESS,
            reason=f"campaign transfer {self.number}",
            figures={},
        )

    def inject(self, kind: str, item: PlannedTransfer) -> bool:
        """Queue one fault for the item's transfer call; False when it does not apply. History
        and look-alike kinds lose the answer now and act once the transfer was tried."""
        if kind == "none" or (kind == "pnl_moved_-5013" and item.from_account == "spot"):
            return False
        faults = self.paper.faults
        if kind in ("5xx_code_before", "5xx_code_after"):
            status, code = self.rng.choice(SERVER_ERRORS), self.rng.choice(UNKNOWN_CODES)
            if kind == "5xx_code_before":
                faults.add("error", status=status, code=code)
            else:
                body = json.dumps({"code": code, "msg": "execution status unknown"})
                faults.add("override", status=status, body=body, apply=True)
        elif kind in ("garbage_200_before", "garbage_200_after"):
            body, content_type = self.rng.choice(GARBAGE_BODIES)
            apply = kind == "garbage_200_after"
            faults.add("override", body=body, content_type=content_type, apply=apply)
        elif kind.startswith(("history_", "lookalike_")):
            faults.add(self.rng.choice(("reset_after", "http_500_before")), hang=HANG_SECONDS)
            self._after = (kind, item)
        elif kind == "clock_-1021":
            self.paper.faults.add("error", status=400, code=-1021, msg="Timestamp outside.")
        elif kind == "pnl_moved_-5013":
            # Between the fresh read and the transfer the price rallies and the short loses,
            # so only part of the amount is still transferable: Binance answers -5013.
            left = item.amount * Decimal(self.rng.uniform(0.2, 0.9))
            price = price_leaving_transferable(self.paper.state, left)
            self.paper.faults.add("move_price_before", symbol="ETHUSDT", price=str(price))
        else:
            self.paper.faults.add(kind, hang=HANG_SECONDS)
        return True

    async def execute(self, item: PlannedTransfer, crash_at: str | None) -> str | None:
        """Execute one planned transfer, the process "dying" at `crash_at` if given; returns
        the failpoint that fired. A restart reconciles first, as the bot does."""
        await self.reconciler.reconcile()
        if crash_at is not None:
            failpoints.arm(crash_at)
        try:
            await self.executor.execute(self.run_id, (item,))
        except failpoints.SimulatedCrash as crash:
            return str(crash)
        finally:
            failpoints.disarm_all()
            self.paper.faults.clear()
            self.paper.set_mark_price("ETHUSDT", ENTRY_PRICE)  # the rally was a blip
            self._aftermath()
        return None

    def _aftermath(self) -> None:
        """After a lost answer: a bad history for the next reconcile, or the user's own
        look-alike transfer next to the bot's intent."""
        if self._after is None:
            return
        kind, item = self._after
        self._after = None
        faults = self.paper.faults
        if kind == "history_garbage":
            body, content_type = self.rng.choice(HISTORY_GARBAGE)
            faults.add(
                "override", method="GET", path=HISTORY_PATH, body=body, content_type=content_type
            )
            return
        if kind == "history_paging_ignored":
            body = paging_ignored_body(self.paper.server_time())
            faults.add("override", method="GET", path=HISTORY_PATH, times=PAGING_GUARD, body=body)
            return
        rows = [r for r in list_transfers(self.ledger, TransferFilter()) if r.reason == item.reason]
        if not rows or rows[-1].amount is None:
            return  # crashed before the intent: nothing to look like
        row = rows[-1]
        assert row.amount is not None
        tag = Decimal(getattr(row, "amount_tag", None) or 0)
        intent_ms = int(row.created_at.timestamp() * 1000) + faults.clock_offset_ms
        if kind == "lookalike_before":  # the same amount, tagged or not, a minute earlier
            amount = row.amount + tag if self.rng.random() < 0.5 else row.amount
            at_ms = intent_ms - 60_000
        else:  # the amount the bot planned (untagged), just after its attempt: booked by now,
            # so the next reconcile's history lists it (a future time would be filtered out)
            amount, at_ms = row.amount + tag, max(intent_ms + 1, self.paper.server_time())
        transfer_type = TYPES[(row.from_account, row.to_account)]
        try:
            tran_id = self.paper.record_outside_transfer(
                row.asset, amount, transfer_type, at_ms=at_ms
            )
        except BinanceError:
            return  # not enough left to move by hand
        self.outside.add(tran_id)

    async def agreement(self) -> Agreement:
        """Settle what is open, then compare the ledger with the exchange's history."""
        self.paper.faults.clear()
        await self.reconciler.reconcile()
        return agreement(self.ledger, self.paper.state, self.outside)


def paging_ignored_body(now_ms: int) -> str:
    """A full page claiming 1000 rows, answered whatever `current` asks: no bot amount."""
    rows = [
        {
            "asset": "USDT",
            "amount": f"{i + 1}.25",
            "type": "MAIN_UMFUTURE" if i % 2 else "UMFUTURE_MAIN",
            "status": "CONFIRMED",
            "tranId": 9_100_000_000_000 + i,
            "timestamp": now_ms - 1_000 * i,
        }
        for i in range(100)
    ]
    return json.dumps({"total": 1000, "rows": rows})


def price_leaving_transferable(state: PaperState, left: Decimal) -> Decimal:
    """The ETH mark at which the USD-M wallet can transfer out only `left`, from Binance's
    cross-margin rule: wallet + uPnL(loss) - initial margin = left, for the one short."""
    (short,) = [p for p in state.positions if p.symbol == "ETHUSDT" and p.kind == "linear"]
    size = abs(short.amount)
    wallet = state.usdm["USDT"].wallet_balance
    # left = wallet - size * (P - entry) - size * P / leverage
    denominator = size * (1 + Decimal(1) / short.leverage)
    return ((wallet + size * short.entry_price - left) / denominator).quantize(Decimal("0.01"))


def agreement(ledger: Ledger, state: PaperState, outside: set[int] | None = None) -> Agreement:
    """The ledger against the exchange's transfers, less those the user made by hand."""
    rows = list_transfers(ledger, TransferFilter())
    left_out = outside or set()
    exchange = {str(t.tran_id): t for t in state.transfers if t.tran_id not in left_out}
    confirmed = {r.exchange_id: r for r in rows if r.status is TransferStatus.CONFIRMED}
    claimed = Counter(r.exchange_id for r in rows if r.status is TransferStatus.CONFIRMED)
    amounts = Counter((t.type, t.amount) for t in exchange.values())
    both = set(exchange) & set(confirmed)
    different = [i for i in both if confirmed[i].amount != exchange[i].amount]
    sums_exchange: Counter[tuple[str, str]] = Counter()
    for t in exchange.values():
        sums_exchange[DIRECTIONS[t.type]] += t.amount  # type: ignore[assignment]
    sums_ledger: Counter[tuple[str, str]] = Counter()
    for r in confirmed.values():
        sums_ledger[(r.from_account, r.to_account)] += r.amount  # type: ignore[assignment]
    return Agreement(
        statuses=Counter(r.status.value for r in rows),
        exchange_transfers=len(exchange),
        duplicates=sum(n - 1 for n in amounts.values() if n > 1)
        + sum(n - 1 for n in claimed.values() if n > 1),
        records_lost=len(set(exchange) ^ set(confirmed)) + len(different),
        sums_agree=sums_exchange == sums_ledger,
        open_rows=sum(1 for r in rows if not r.status.is_final),
        shrinks=sum(1 for r in rows if r.replaces_id is not None),
        ambiguous=sum(
            1 for r in rows if not r.status.is_final and "ambiguous" in (r.error or "").lower()
        ),
        outside=len(left_out),
    )


async def run_campaign(transfers: int, seed: int, workdir: Path) -> CampaignReport:
    rng = random.Random(seed)
    report = CampaignReport()
    started = time.perf_counter()
    kinds, weights = zip(*FAULT_KINDS.items(), strict=True)
    async with Harness(workdir, rng) as harness:
        for _ in range(transfers):
            state = harness.paper.state
            poorer_is_futures = state.spot["USDT"].free > state.usdm["USDT"].wallet_balance
            to_futures = poorer_is_futures if rng.random() < 0.8 else rng.random() < 0.5
            item = harness.transfer(to_futures, rng.randint(10, 2000))
            kind = rng.choices(kinds, weights)[0]
            if harness.inject(kind, item):
                report.faults[kind] += 1
            crash_at = rng.choice(failpoints.ALL) if rng.random() < CRASH_RATE else None
            fired = await harness.execute(item, crash_at)
            if fired is not None:
                report.crashes[fired] += 1
            report.transfers_tried += 1
        report.agreement = await harness.agreement()
    report.seconds = time.perf_counter() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        report = asyncio.run(run_campaign(args.transfers, args.seed, Path(workdir)))
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
