"""Property-based (hypothesis, stateful): random sequences of price moves, planned transfers,
faults and crashes. After every step, once reconciliation has settled what is open:

- every transfer in the exchange's history has exactly one `confirmed` ledger row;
- no `confirmed` row lacks its exchange transfer (same asset and amount);
- no intent was applied twice (every intent's amount is unique, so a repeat would show);
- the sums per direction agree.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bench.fault_campaign import FAULT_KINDS, Harness
from bot.runtime import failpoints


class TransfersUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp())  # removed at teardown: CI leaves no folder behind
        self.harness = Harness(self.folder, random.Random(1))
        self.loop.run_until_complete(self.harness.__aenter__())

    def teardown(self) -> None:
        failpoints.disarm_all()
        try:
            self.loop.run_until_complete(self.harness.__aexit__(None, None, None))
            self.loop.close()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    @rule(price=st.integers(min_value=2500, max_value=3600))
    def move_price(self, price: int) -> None:
        self.harness.paper.set_mark_price("ETHUSDT", Decimal(price))

    @rule(
        to_futures=st.booleans(),
        whole=st.integers(min_value=5, max_value=3000),
        fault=st.sampled_from(sorted(FAULT_KINDS)),
        crash=st.sampled_from([None, *failpoints.ALL]),
    )
    def transfer(self, to_futures: bool, whole: int, fault: str, crash: str | None) -> None:
        item = self.harness.transfer(to_futures, whole)
        self.harness.inject(fault, item)
        self.loop.run_until_complete(self.harness.execute(item, crash))

    @invariant()
    def ledger_matches_exchange_once_settled(self) -> None:
        agreement = self.loop.run_until_complete(self.harness.agreement())
        assert agreement.open_rows == 0
        assert agreement.duplicates == 0, "an intent was applied twice"
        assert agreement.records_lost == 0, "lost or invented records"
        assert agreement.sums_agree


TransfersUnderFaults.TestCase.settings = settings(
    max_examples=5,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_transfers_under_faults = TransfersUnderFaults.TestCase
