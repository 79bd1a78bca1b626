"""Job runs of `bot run` (0005): one row per scheduled run of a job (or one that did not
happen), final once it has an outcome; and the transfer counts the metrics read."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import func, select

from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import JobRun, Transfer


class UnattendedRecords(LedgerBase):
    """Writes and reads of job runs."""

    def start_job(self, kind: str, *, scheduled_at: datetime | None, late: bool) -> int:
        now = self._clock()
        with self._transaction(now) as session:
            row = JobRun(
                kind=kind,
                scheduled_at=scheduled_at,
                started_at=now,
                late=late,
                status="running",
                pid=os.getpid(),
                host=socket.gethostname(),
            )
            session.add(row)
        return row.id

    def finish_job(
        self, job_id: int, status: str, *, error: str | None = None, run_id: int | None = None
    ) -> None:
        now = self._clock()
        with self._transaction(now) as session:
            row = session.get_one(JobRun, job_id)
            row.status, row.error, row.run_id = status, error, run_id
            row.finished_at = now

    def record_job_not_run(
        self, kind: str, status: str, *, scheduled_at: datetime | None, error: str
    ) -> int:
        """A run that did not happen (`missed`: too late after a suspend; `skipped`: the
        previous one was still running): final as written."""
        now = self._clock()
        with self._transaction(now) as session:
            row = JobRun(
                kind=kind,
                scheduled_at=scheduled_at,
                started_at=now,
                finished_at=now,
                late=True,
                status=status,
                error=error,
                pid=os.getpid(),
                host=socket.gethostname(),
            )
            session.add(row)
        return row.id

    def transfer_counts(self) -> dict[tuple[str, str], int]:
        """Transfers by (venue, status), dry runs left out: for the metrics."""
        with self._sessions() as session:
            rows = session.execute(
                select(Transfer.venue, Transfer.status, func.count())
                .where(Transfer.dry_run.is_(False))
                .group_by(Transfer.venue, Transfer.status)
            ).all()
            return {(venue, status): count for venue, status, count in rows}
