"""Property-based (hypothesis, stateful): random sequences of price moves, planned transfers,
faults and crashes. After every step, once reconciliation has settled what is open:

- every transfer in the exchange's history has exactly one `confirmed` ledger row;
- no `confirmed` row lacks its exchange transfer (same asset and amount);
- no intent was applied twice (every intent's amount is unique, so a repeat would show);
- the sums per direction agree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import tempfile
from collections import Counter
from contextlib import AsyncExitStack
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bench.fault_campaign import KEY_ENV, SECRET_ENV, _NoWait, _price_leaving_transferable
from bot import failpoints
from bot.config import parse_config
from bot.executor import Executor
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.model import PlannedTransfer, Rule, TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from bot.paper.model import FuturesBalance, SpotBalance, default_state
from bot.reconcile import Reconciler
from bot.retry import RetryPolicy, Timing
from bot.venues.session import open_venues
from tests.integration.conftest import paper_api_urls

FAULTS = [
    None,
    "http_500_before",
    "http_500_after",
    "http_429",
    "timeout_before",
    "timeout_after",
    "reset_after",
    "clock",
    "pnl",
]


class TransfersUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        os.environ[KEY_ENV], os.environ[SECRET_ENV] = PAPER_API_KEY, PAPER_SECRET
        self.loop = asyncio.new_event_loop()
        self.workdir = Path(tempfile.mkdtemp())
        self.stack = AsyncExitStack()
        self.number = 0
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        state = default_state()
        state = dataclasses.replace(
            state,
            spot={**state.spot, "USDT": SpotBalance(free=Decimal("50000"))},
            usdm={"USDT": FuturesBalance(wallet_balance=Decimal("20000"), update_time=0)},
        )
        self.paper = await self.stack.enter_async_context(
            PaperExchange(StateStore(self.workdir / "paper.json", initial=state), test_hooks=True)
        )
        config = parse_config(
            {
                "ledger": {"url": "sqlite:///ledger.sqlite"},
                "transfers": {"min_amount": "1", "settle_window_seconds": 0},
                "venues": {
                    "binance": {
                        "exchange": "binance",
                        "api_key_env": KEY_ENV,
                        "secret_env": SECRET_ENV,
                        "urls": paper_api_urls(self.paper.base_url),
                        "ccxt": {"enableRateLimit": False, "timeout": 100},
                    }
                },
                "hedges": {},
            },
            base_dir=self.workdir,
        )
        self.ledger = Ledger.open(config.ledger_url)
        no_wait = _NoWait()
        timing = Timing(sleep=no_wait.sleep, monotonic=no_wait.monotonic, rng=random.Random(1))
        venues = await self.stack.enter_async_context(
            open_venues(config, dry_run=False, timing=timing)
        )
        venues["binance"].client.timeout_on_exit = 0
        self.executor = Executor(
            venues,
            self.ledger,
            config.transfers,
            dry_run=False,
            policy=RetryPolicy(attempts=3),
            timing=timing,
        )
        self.reconciler = Reconciler(venues, self.ledger, settle_window=timedelta(0))
        self.run_id = self.ledger.start_run("stateful", dry_run=False, config_digest="-")

    def teardown(self) -> None:
        failpoints.disarm_all()
        self.loop.run_until_complete(self.stack.aclose())
        self.ledger.close()
        self.loop.close()

    @rule(price=st.integers(min_value=2500, max_value=3600))
    def move_price(self, price: int) -> None:
        self.paper.set_mark_price("ETHUSDT", Decimal(price))

    @rule(
        to_futures=st.booleans(),
        whole=st.integers(min_value=5, max_value=3000),
        fault=st.sampled_from(FAULTS),
        crash=st.sampled_from([None, *failpoints.ALL]),
    )
    def transfer(self, to_futures: bool, whole: int, fault: str | None, crash: str | None) -> None:
        self.number += 1
        amount = Decimal(whole) + Decimal(self.number) / Decimal(10**6)  # unique per intent
        item = PlannedTransfer(
            venue="binance",
            hedges=("h",),
            asset="USDT",
            from_account="spot" if to_futures else "linear",
            to_account="linear" if to_futures else "spot",
            amount=amount,
            rule=Rule.TOP_UP,
            reason="stateful",
            figures={},
        )
        if fault == "clock":
            self.paper.faults.add("error", status=400, code=-1021, msg="Timestamp outside.")
        elif fault == "pnl" and not to_futures:
            price = _price_leaving_transferable(self.paper, amount / 2)
            if price > 0:
                self.paper.faults.add("move_price_before", symbol="ETHUSDT", price=str(price))
        elif fault not in (None, "pnl", "clock"):
            self.paper.faults.add(fault, hang=0.12)
        if crash:
            failpoints.arm(crash)
        try:
            self.loop.run_until_complete(self.executor.execute(self.run_id, (item,)))
        except failpoints.SimulatedCrash:
            pass  # the process "died": the next step starts with reconciliation
        finally:
            failpoints.disarm_all()
            self.paper.faults.clear()

    @invariant()
    def ledger_matches_exchange_once_settled(self) -> None:
        self.loop.run_until_complete(self.reconciler.reconcile())
        rows = list_transfers(self.ledger, TransferFilter())
        assert not [r for r in rows if r.status in (TransferStatus.PENDING, TransferStatus.UNKNOWN)]
        exchange = {str(t.tran_id): t for t in self.paper.state.transfers}
        confirmed = [r for r in rows if r.status is TransferStatus.CONFIRMED]
        claims = Counter(r.exchange_id for r in confirmed)
        assert all(n == 1 for n in claims.values()), "one exchange transfer, two rows"
        assert set(claims) == set(exchange), "lost or invented records"
        for row in confirmed:
            assert exchange[row.exchange_id].amount == row.amount
        amounts = Counter((t.type, t.amount) for t in exchange.values())
        assert all(n == 1 for n in amounts.values()), "an intent was applied twice"
        by_direction_ledger: Counter[tuple[str, str]] = Counter()
        for row in confirmed:
            by_direction_ledger[(row.from_account, row.to_account)] += row.amount  # type: ignore[assignment]
        names = {"MAIN_UMFUTURE": ("spot", "linear"), "UMFUTURE_MAIN": ("linear", "spot")}
        by_direction_exchange: Counter[tuple[str, str]] = Counter()
        for t in exchange.values():
            by_direction_exchange[names[t.type]] += t.amount  # type: ignore[assignment]
        assert by_direction_ledger == by_direction_exchange


TransfersUnderFaults.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_transfers_under_faults = TransfersUnderFaults.TestCase
