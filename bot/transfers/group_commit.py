"""Group commit of transfer outcomes: the answers of several venues that come in while the
loop is busy are recorded in one transaction, so that at 20 venues the outcomes cost a few
commits instead of twenty (each commit is several fsyncs, and under disk contention ~10 ms).

Nothing is weakened: each outcome is durable when its group commits, and its sender waits for
that commit before going on, exactly as it waited for its own commit before. A crash before the
group's commit leaves each of its rows `pending`, as a crash before a single commit did:
reconciliation settles them against the venue's history (invariant 2). The intent is not
grouped here: it is committed before the send (invariant 1) by `Ledger.record_intents` /
`record_intent`, as before.
"""

from __future__ import annotations

import asyncio

from bot.ledger.store import AttemptWrite, Ledger, TransferRecord


class OutcomeGroup:
    """Collects the outcomes recorded in one turn of the event loop and commits them together
    at the end of it (`Ledger.record_attempts`); each caller gets its own row back, or the
    error that refused the write (which the send loop reports as an unrecorded transfer)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._waiting: list[tuple[AttemptWrite, asyncio.Future[TransferRecord]]] = []

    async def record(self, write: AttemptWrite) -> TransferRecord:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[TransferRecord] = loop.create_future()
        self._waiting.append((write, done))
        if len(self._waiting) == 1:  # the first of this turn: commit once the turn's done
            loop.call_soon(self._commit)
        return await done

    def _commit(self) -> None:
        group, self._waiting = self._waiting, []
        try:
            if len(group) == 1:
                ((write, _),) = group
                records = [self._ledger.record_attempt(write.transfer_id, **write.columns())]
            else:
                records = self._ledger.record_attempts([write for write, _ in group])
        except Exception as exc:  # every row of the group is unrecorded alike
            for _, done in group:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), record in zip(group, records, strict=True):
            if not done.done():
                done.set_result(record)
