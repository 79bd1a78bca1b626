"""Runs (one per command or job that acts) and the chain head written outside the database
after each: the log always, `anchor_file` when set, so that removing the newest entries is
detected too."""

from __future__ import annotations

import json
import logging

from bot.ledger import journal, totals
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import Run

log = logging.getLogger("bot.ledger")


class RunRecords(LedgerBase):
    """Opening and closing runs; the chain head and its anchor."""

    def start_run(self, command: str, *, dry_run: bool, config_digest: str) -> int:
        now = self._clock()
        with self._transaction(now) as session:
            run = Run(
                command=command,
                dry_run=dry_run,
                started_at=now,
                status="running",
                config_digest=config_digest,
            )
            session.add(run)
        return run.id

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        """Close the run, then record the chain head outside the database (the log, and
        `anchor_file` when set), so that removing the newest entries is detected too."""
        now = self._clock()
        with self._transaction(now) as session:
            run = session.get_one(Run, run_id)
            run.status, run.error, run.finished_at = status, error, now
            totals.fold(session)  # the run's transfers, off their own writes' path
        self.write_anchor()

    def chain_head(self) -> journal.ChainHead:
        with self.engine.connect() as connection:
            return journal.head(connection)

    def write_anchor(self) -> journal.ChainHead:
        """Log the chain head and append it to `anchor_file` (one JSON line) when set."""
        current = self.chain_head()
        log.info("ledger chain head: seq=%d hash=%s", current.seq, current.hash)
        if self.anchor_file is not None:
            line = json.dumps(
                {
                    "at": self._clock().isoformat().replace("+00:00", "Z"),
                    "seq": current.seq,
                    "hash": current.hash,
                }
            )
            try:
                self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
                with self.anchor_file.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError as exc:
                log.error(
                    "ledger.anchor_file: cannot append the chain head to %s (%s); it was "
                    "logged here instead: seq=%d hash=%s",
                    self.anchor_file,
                    exc.strerror or exc,
                    current.seq,
                    current.hash,
                )
        return current
