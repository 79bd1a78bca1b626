"""The transfer call answering badly, before and after the exchange applied it: every 5xx with
every "status unknown" code, 200 with an error code, 200 with garbage, a dropped connection, a
hang. Whatever the answer, the row is `unknown` after the run that heard it (never `failed`,
never `confirmed`: the answer proves nothing), and the next run settles it to what the paper
did: `confirmed` with the paper's tranId if it applied, else `failed` and a new transfer sent.
After every sub-case the ledger and the paper's history agree one to one.

Sub-cases run in sequence on one paper exchange and one ledger per group (see matrix.Rig); a
failing one is listed by its id at the end of its group.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.model import TransferStatus
from bot.paper.faults import KNOWN_MESSAGES
from tests.reliability.matrix import HANG_SECONDS, Rig, new_rows, paper_in_memory
from tests.waiting import DEADLINE

STATUSES = (500, 502, 503, 504)
CODES = (-1000, -1001, -1006, -1007, -1008, -1016, -9000)
MESSAGES = {
    **KNOWN_MESSAGES,
    -1008: "Server is currently overloaded with other requests. Please try again in a few minutes.",
    -1016: "This service is no longer available.",
    -9000: "Unexpected error; execution status unknown.",
}
GARBAGE = {  # a 200 whose body proves nothing
    "empty": ("", "application/json"),
    "html": ("<html><body>maintenance</body></html>", "text/html"),
    "truncated": ('{"tranId": 12', "application/json"),
    "object": ("{}", "application/json"),
    "list": ("[]", "application/json"),
    "null-id": ('{"tranId": null}', "application/json"),
}


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    applied: bool  # whether the paper applies the transfer before answering
    options: dict[str, Any] = field(default_factory=dict)


def error_body(code: int) -> str:
    return json.dumps({"code": code, "msg": MESSAGES[code]})


GROUPS: dict[str, list[Case]] = {
    "5xx-before": [
        Case(f"{s}/{c}/before", "error", False, {"status": s, "code": c, "msg": MESSAGES[c]})
        for s in STATUSES
        for c in CODES
    ],
    "5xx-after": [
        Case(f"{s}/{c}/after", "override", True, {"status": s, "body": error_body(c)})
        for s in STATUSES
        for c in CODES
    ],
    "200-code": [
        Case(f"200/-1001/{when}", "override", applied, {"status": 200, "body": error_body(-1001)})
        for when, applied in (("before", False), ("after", True))
    ],
    "200-garbage-before": [
        Case(f"200/{name}/before", "override", False, {"body": body, "content_type": ctype})
        for name, (body, ctype) in GARBAGE.items()
    ],
    "200-garbage-after": [
        Case(f"200/{name}/after", "override", True, {"body": body, "content_type": ctype})
        for name, (body, ctype) in GARBAGE.items()
    ],
    "lost": [
        Case("reset_after", "reset_after", True),
        Case("timeout_after", "timeout_after", True, {"hang": HANG_SECONDS}),
    ],
}


async def lost_answer(rig: Rig, case: Case) -> None:
    cid, paper = case.id, rig.paper
    before = rig.bot_transfer_ids()
    options = dict(case.options)
    if case.kind == "override":
        options["apply"] = case.applied
    paper.faults.add(case.kind, **options)

    first = await rig.rebalance()
    paper.faults.clear()
    applied = rig.bot_transfer_ids() - before
    rig.check(
        len(applied) == int(case.applied),
        cid,
        f"the fault should have let the paper apply {int(case.applied)} transfer, it applied "
        f"{sorted(applied)}",
    )
    sent = new_rows(first)
    rig.check(len(sent) == 1, cid, f"one transfer expected in the faulted run, got {sent}")
    (row,) = sent
    rig.check(
        row.status is TransferStatus.UNKNOWN,
        cid,
        f"after the bad answer transfer {row.id} is {row.status.value} "
        f"(exchange_id {row.exchange_id!r}, error {row.error!r}); expected unknown",
    )
    rig.check(first.failed, cid, "the faulted run must report failure (exit 1)")

    # The venue's history proves an absence only once the venue's clock has passed the send
    # (plus the offset's uncertainty); until then the row rightly stays unknown and nothing is
    # resent. Settle it first, so the next run's behaviour does not hang on that moment.
    ends = time.monotonic() + DEADLINE
    while True:
        await rig.reconcile()
        if rig.row(row.id).status is not TransferStatus.UNKNOWN or time.monotonic() > ends:
            break
        await asyncio.sleep(0.1)
    second = await rig.rebalance()
    settled = rig.row(row.id)
    if case.applied:
        (tran_id,) = applied
        rig.check(
            settled.status is TransferStatus.CONFIRMED and settled.exchange_id == str(tran_id),
            cid,
            f"the paper applied it as {tran_id}; transfer {row.id} is {settled.status.value} "
            f"with exchange_id {settled.exchange_id!r} (error {settled.error!r})",
        )
        return
    rig.check(
        settled.status is TransferStatus.FAILED,
        cid,
        f"the paper never applied it; transfer {row.id} is {settled.status.value} "
        f"(exchange_id {settled.exchange_id!r}, error {settled.error!r}); expected failed",
    )
    replacements = new_rows(second)
    rig.check(
        [r.status for r in replacements] == [TransferStatus.CONFIRMED],
        cid,
        f"the next run should send one new transfer, confirmed; it sent "
        f"{[(r.id, r.status.value, r.error) for r in replacements]} "
        f"(blocked: {[b.message for b in second.blocked]})",
    )
    (replacement,) = replacements
    rig.check(
        rig.bot_transfer_ids() - before == {int(replacement.exchange_id or 0)},
        cid,
        f"the paper holds {sorted(rig.bot_transfer_ids() - before)} for this sub-case, the "
        f"replacement {replacement.id} says {replacement.exchange_id!r}",
    )


@pytest.fixture
async def rig(tmp_path: Path, venue_env: None) -> AsyncIterator[Rig]:
    async with paper_in_memory() as paper:
        opened = Rig(paper, tmp_path)
        yield opened
        opened.close()


@pytest.mark.parametrize("group", list(GROUPS))
async def test_a_bad_transfer_answer_is_unknown_then_settled_to_what_the_paper_did(
    rig: Rig, group: str
) -> None:
    await rig.run_cases(GROUPS[group], lost_answer)
    rig.assert_all_passed()
