"""Row 11: what one transfer's ledger writes cost on a file SQLite ledger, the way the executor
makes them in the usual case: the intent committed (before the send, invariant 1), then the
attempt and its confirmed outcome in one commit (with the fresh read's inputs).

Statements are counted with SQLAlchemy's `before_cursor_execute` event: every statement sent
to the database but transaction control (the `BEGIN IMMEDIATE` the ledger sends on SQLite is
counted apart, as transactions; a `COMMIT` never reaches that event); time is the median over
`transfers` transfers, as a ratio to a bare `BEGIN IMMEDIATE` + `INSERT` + `COMMIT` of one row
on the same kind of file (rollback journal, `synchronous=FULL`, as the ledger's).

A second figure is the cost per transfer when a cycle moves money at 20 venues at once, as the
executor writes it then: the cycle's intents in one transaction before the fresh reads, the
attempts whose answers came in together in one group commit (invariant 1 kept: every intent is
committed before its send).

    python -m bench.ledger_cost [--transfers 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, event

from bot.ledger import Ledger
from bot.ledger.transfers import AttemptWrite
from bot.model import PlannedTransfer, Rule, TransferStatus

STATEMENTS_LIMIT = 5
MS_LIMIT = 3.0
KEY = b"bench ledger key"
ITEM = PlannedTransfer(
    venue="paper",
    hedges=("eth",),
    asset="USDT",
    from_account="spot",
    to_account="linear",
    amount=Decimal("3000"),
    rule=Rule.TOP_UP,
    reason="margin ratio 0.3000 is below band [0.4, 0.6]",
    figures={"equity": Decimal("4500")},
)


@dataclass(frozen=True)
class LedgerCost:
    statements: int  # of one transfer's writes, but BEGIN
    transactions: int  # its BEGINs (SQLite)
    ms: float  # median per transfer
    bare_ms: float  # median bare INSERT + COMMIT

    @property
    def ratio(self) -> float:
        return self.ms / self.bare_ms if self.bare_ms else float("nan")


class Counter:
    """Counts the statements an engine sends while `on`, and apart its BEGINs."""

    def __init__(self, engine: Engine) -> None:
        self.count = self.begins = 0
        self.counting = False
        self.sent: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not self.counting:
            return
        self.sent.append(statement.split("\n")[0][:100])
        if statement.strip().upper().startswith("BEGIN"):
            self.begins += 1
        else:
            self.count += 1

    @contextmanager
    def on(self) -> Iterator[None]:
        self.count, self.begins, self.sent, self.counting = 0, 0, [], True
        try:
            yield
        finally:
            self.counting = False


def one_transfer(ledger: Ledger, run_id: int, number: int) -> None:
    """The executor's usual writes of one transfer: intent, then attempt + confirmed."""
    intent = ledger.record_intent(run_id, ITEM, amount=ITEM.amount, inputs={})
    ledger.record_attempt(
        intent.id,
        amount=ITEM.amount,
        outcome="confirmed",
        started_at=datetime.now(UTC),
        status=TransferStatus.CONFIRMED,
        exchange_id=str(10**12 + number),
        venue_clock_offset_ms=3,
        inputs={"transferable": Decimal("5000"), "safety": Decimal("0.98")},
    )


def one_cycle(ledger: Ledger, run_id: int, number: int, venues: int) -> None:
    """A cycle's writes at `venues` venues, as the executor makes them: every venue's intent in
    one transaction before the fresh reads (`record_intents`), then the attempts whose answers
    came in together in one group commit (`record_attempts`)."""
    intents = ledger.record_intents(run_id, [(ITEM, ITEM.amount, {}, None) for _ in range(venues)])
    now = datetime.now(UTC)
    ledger.record_attempts(
        [
            AttemptWrite(
                transfer_id=intent.id,
                amount=ITEM.amount,
                outcome="confirmed",
                started_at=now,
                status=TransferStatus.CONFIRMED,
                exchange_id=str(10**12 + number * venues + i),
                venue_clock_offset_ms=3,
                inputs={"transferable": Decimal("5000"), "safety": Decimal("0.98")},
            )
            for i, intent in enumerate(intents)
        ]
    )


def per_transfer_in_cycles(workdir: Path, venues: int, cycles: int) -> tuple[float, int]:
    """(median ms per transfer, transactions per cycle) when a cycle moves money at `venues`
    venues at once."""
    workdir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger.open(f"sqlite:///{workdir / 'cycles.sqlite'}", key=KEY)
    try:
        counter = Counter(ledger.engine)
        run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
        one_cycle(ledger, run_id, 0, venues)  # warm
        times = []
        for number in range(1, cycles + 1):
            with counter.on():
                started = time.perf_counter()
                one_cycle(ledger, run_id, number, venues)
                times.append(time.perf_counter() - started)
        begins = counter.begins
    finally:
        ledger.close()
    return statistics.median(times) * 1000 / venues, begins


def bare_insert_ms(path: Path, rounds: int) -> float:
    """The median of one INSERT + COMMIT on a file SQLite with the ledger's settings."""
    import sqlite3

    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=PERSIST")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t (body) VALUES (?)", ("x" * 200,))
        connection.execute("COMMIT")
        times.append(time.perf_counter() - started)
    connection.close()
    return statistics.median(times) * 1000


def measure(workdir: Path, transfers: int = 200) -> tuple[LedgerCost, list[str]]:
    """(the cost, the statements of the last transfer)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger.open(f"sqlite:///{workdir / 'ledger.sqlite'}", key=KEY)
    try:
        counter = Counter(ledger.engine)
        run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
        one_transfer(ledger, run_id, 0)  # warm: statement caches, the journal head
        times = []
        for number in range(1, transfers + 1):
            with counter.on():
                started = time.perf_counter()
                one_transfer(ledger, run_id, number)
                times.append(time.perf_counter() - started)
        statements, begins, sent = counter.count, counter.begins, counter.sent
    finally:
        ledger.close()
    bare = bare_insert_ms(workdir / "bare.sqlite", transfers)
    return LedgerCost(statements, begins, statistics.median(times) * 1000, bare), sent


#: venues moving money in one cycle, for the per-transfer cost in a cycle (row 11b)
CYCLE_VENUES = 20


def rows(cost: LedgerCost, in_cycle: tuple[float, int] | None = None) -> list[tuple[str, str, str]]:
    found = [
        (
            "11. per-transfer ledger cost (intent; attempt + confirmed), file SQLite",
            f"{cost.statements} statements (limit {STATEMENTS_LIMIT}) in {cost.transactions} "
            f"transactions, {cost.ms:.2f} ms "
            f"(limit {MS_LIMIT:g} ms), {cost.ratio:.1f}x a bare insert+commit "
            f"({cost.bare_ms:.2f} ms)",
            f"<= {STATEMENTS_LIMIT} statements, <= {MS_LIMIT:g} ms",
        )
    ]
    if in_cycle is not None:
        ms, begins = in_cycle
        found.append(
            (
                f"11b. per-transfer ledger cost in a cycle moving money at {CYCLE_VENUES} venues",
                f"{ms:.2f} ms per transfer (limit {MS_LIMIT:g} ms): the cycle's intents in one "
                f"transaction, its attempts in one group commit ({begins} transactions per "
                f"cycle), {ms / cost.bare_ms:.2f}x a bare insert+commit",
                f"<= {MS_LIMIT:g} ms",
            )
        )
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_cost", description=__doc__)
    parser.add_argument("--transfers", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ledger-cost-") as tmp:
        cost, sent = measure(Path(tmp), args.transfers)
        in_cycle_ms, begins = per_transfer_in_cycles(
            Path(tmp), CYCLE_VENUES, max(5, args.transfers // CYCLE_VENUES)
        )
    print(
        f"per-transfer ledger cost: {cost.statements} statements (limit {STATEMENTS_LIMIT}) in "
        f"{cost.transactions} transactions, "
        f"{cost.ms:.2f} ms (limit {MS_LIMIT:g} ms), ratio to bare insert+commit "
        f"{cost.ratio:.1f} ({cost.bare_ms:.2f} ms)"
    )
    for statement in sent:
        print(f"  {statement}")
    print(
        f"in a cycle moving money at {CYCLE_VENUES} venues: {in_cycle_ms:.2f} ms per transfer "
        f"(limit {MS_LIMIT:g} ms), {begins} transactions per cycle"
    )


if __name__ == "__main__":
    main()
