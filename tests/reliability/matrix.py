"""The rig the outcome and history matrices share: one paper exchange, one real SQLite ledger,
a live binance venue reaching the exchange only over HTTP, and many sequential sub-cases.

Each sub-case starts from the same books (the hedge needs a top-up from spot to USD-M), with
an amount no earlier sub-case had, so a transfer of one sub-case can never pass for another's.
A sub-case that fails is recorded with its id and the rig moves to a fresh ledger (its open rows
would block the next sub-case); the test fails at the end listing every failing sub-case.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import Config, parse_config
from bot.cycle.rebalance import CycleResult, rebalance, reconcile
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.store import TransferRecord
from bot.model import TransferStatus
from bot.paper import PaperExchange, PaperState, StateStore
from bot.paper.model import SpotBalance
from bot.transfers.reconcile import ReconcileReport
from tests.integration.conftest import ETH_HEDGE, live_venue

VENUE = "binance"
HISTORY = "/sapi/v1/asset/transfer"
UP = "MAIN_UMFUTURE"
SPOT_USDT = Decimal("100000")
USDM_WALLET = Decimal("4500")  # against a 15000 USDT short: a ~3000 USDT top-up
STEP = Decimal("1.01")  # each sub-case's top-up is this much larger than the previous one's
CCXT_TIMEOUT_MS = 1500
HANG_SECONDS = 3.0  # longer than the client timeout: the answer is lost


class CaseFailed(AssertionError):
    pass


def ms(record: TransferRecord) -> int:
    """The intent's time in the venue's unit."""
    return int(record.created_at.timestamp() * 1000)


def amount_tag(record: TransferRecord) -> Decimal:
    """What the bot subtracted from the sized amount; the untagged amount is amount + tag."""
    tag = getattr(record, "amount_tag", None)
    if tag is None:
        raise CaseFailed(f"transfer {record.id} has no amount_tag (TransferRecord.amount_tag)")
    return Decimal(tag)


class Rig:
    def __init__(self, paper: PaperExchange, tmp_path: Path, **transfers: Any) -> None:
        self.paper = paper
        self.tmp_path = tmp_path
        self.transfers = transfers
        self.epoch = 0
        self.number = 0
        self.ledger: Ledger | None = None
        self.foreign: set[int] = set()  # paper transfers not made by this ledger's bot
        self.failures: list[str] = []
        self.passed: list[str] = []
        self.new_ledger()

    # setting up ---------------------------------------------------------------------------

    def new_ledger(self) -> None:
        """A fresh ledger file; what the paper holds so far belongs to no row of it."""
        if self.ledger is not None:
            self.ledger.close()
        self.epoch += 1
        raw = {
            "ledger": {"url": f"sqlite:///ledger-{self.epoch}.sqlite"},
            "transfers": {
                "safety": "0.99",
                "min_amount": "10",
                "settle_window_seconds": 0,
                **self.transfers,
            },
            "retry": {"attempts": 1, "initial_backoff_seconds": 0},
            "venues": {
                VENUE: live_venue(
                    self.paper.base_url,
                    websocket=False,
                    ccxt={
                        "enableRateLimit": False,
                        "timeout": CCXT_TIMEOUT_MS,
                        # plain HTTP on loopback: no TLS to tear down (close() would sleep
                        # 250 ms) and no certificates to load (34 ms of CPU per client)
                        "timeout_on_exit": 0,
                        "verify": False,
                    },
                )
            },
            "hedges": {"eth": ETH_HEDGE},
        }
        self.config: Config = parse_config(raw, base_dir=self.tmp_path)
        self.ledger = Ledger.open(self.config.ledger_url)
        self.foreign = {t.tran_id for t in self.paper.state.transfers}

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def reset_books(self) -> None:
        """No faults, no clock offset, and a hedge below its band needing a top-up of an amount
        no earlier sub-case planned. The history stays: it is what the ledger is checked against."""
        self.number += 1
        self.paper.faults.reset()
        state = self.paper.store.state
        usdm = dict(state.usdm)
        usdm["USDT"] = dataclasses.replace(
            usdm["USDT"], wallet_balance=USDM_WALLET - STEP * self.number
        )
        spot = {**state.spot, "USDT": SpotBalance(free=SPOT_USDT)}
        marks = {**state.mark_prices, "ETHUSDT": Decimal("3000")}
        self.paper.store.commit(dataclasses.replace(state, usdm=usdm, spot=spot, mark_prices=marks))

    # acting -------------------------------------------------------------------------------

    async def rebalance(self) -> CycleResult:
        assert self.ledger is not None
        return await rebalance(self.config, self.ledger, dry_run=False)

    async def reconcile(self) -> ReconcileReport:
        assert self.ledger is not None
        return await reconcile(self.config, self.ledger)

    def outside(self, amount: Decimal, *, at_ms: int | None = None) -> int:
        """The user moves `amount` USDT spot -> USD-M by hand."""
        tran_id = self.paper.record_outside_transfer("USDT", amount, UP, at_ms=at_ms)
        self.foreign.add(tran_id)
        return tran_id

    # reading ------------------------------------------------------------------------------

    def rows(self) -> list[TransferRecord]:
        assert self.ledger is not None
        return list_transfers(self.ledger, TransferFilter(venue=VENUE))

    def row(self, transfer_id: int) -> TransferRecord:
        assert self.ledger is not None
        return self.ledger.get_transfer(transfer_id)

    def bot_transfer_ids(self) -> set[int]:
        return {t.tran_id for t in self.paper.state.transfers if t.tran_id not in self.foreign}

    # checking -----------------------------------------------------------------------------

    def check(self, condition: object, cid: str, message: str) -> None:
        if not condition:
            raise CaseFailed(f"[{cid}] {message}")

    def check_ledger_matches_paper(self, cid: str) -> None:
        """The confirmed rows ↔ the paper's transfers made by the bot, one to one, same tranId,
        same asset, same amount (the row's `amount` is what was sent)."""
        paper = {
            str(t.tran_id): t for t in self.paper.state.transfers if t.tran_id not in self.foreign
        }
        confirmed = [r for r in self.rows() if r.status is TransferStatus.CONFIRMED]
        by_id = {r.exchange_id: r for r in confirmed}
        self.check(
            len(by_id) == len(confirmed),
            cid,
            f"two confirmed rows claim one paper transfer: {[r.exchange_id for r in confirmed]}",
        )
        self.check(
            set(by_id) == set(paper),
            cid,
            f"ledger and paper disagree: confirmed rows {sorted(map(str, by_id))} "
            f"(ledger ids {[r.id for r in confirmed]}), paper transfers by the bot "
            f"{sorted(paper)}",
        )
        for tran_id, transfer in paper.items():
            row = by_id[tran_id]
            self.check(
                row.amount == transfer.amount and row.asset == transfer.asset,
                cid,
                f"transfer {row.id} confirmed as {tran_id} with {row.amount} {row.asset}, "
                f"the paper moved {transfer.amount} {transfer.asset}",
            )

    # running ------------------------------------------------------------------------------

    async def run_cases(
        self, cases: Sequence[Any], body: Callable[[Rig, Any], Awaitable[None]]
    ) -> None:
        """Every sub-case (with an `id`) from fresh books; a failure is noted, then a fresh
        ledger so the next sub-case is not blocked by this one's open rows."""
        for case in cases:
            self.reset_books()
            try:
                await body(self, case)
                self.check_ledger_matches_paper(case.id)
            except CaseFailed as failure:
                text = str(failure)
                self.failures.append(text if text.startswith("[") else f"[{case.id}] {text}")
                self.new_ledger()
            except Exception as error:
                where = traceback.extract_tb(error.__traceback__)[-1]
                self.failures.append(
                    f"[{case.id}] {type(error).__name__}: {error} "
                    f"(at {Path(where.filename).name}:{where.lineno})"
                )
                self.new_ledger()
            else:
                self.passed.append(case.id)
        self.paper.faults.reset()

    def assert_all_passed(self) -> None:
        assert not self.failures, (
            f"{len(self.failures)} of {len(self.failures) + len(self.passed)} sub-cases "
            "failed:\n" + "\n".join(self.failures)
        )


def paper_in_memory() -> PaperExchange:
    """The paper exchange with its state in memory: its durability is tested elsewhere, and
    each commit would otherwise fsync a file (the ledger stays a real SQLite file)."""
    return PaperExchange(StateStore(None), test_hooks=True)


def new_rows(result: CycleResult) -> list[TransferRecord]:
    return [t for t in result.transfers if t.venue == VENUE]


def errors_of(report: ReconcileReport, transfer_id: int) -> list[str]:
    return [e for e in report.errors if f"transfer {transfer_id}" in e]


def edit(paper: PaperExchange, change: Callable[[PaperState], PaperState]) -> None:
    paper.store.commit(change(paper.store.state))
