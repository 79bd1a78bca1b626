"""The fault campaign in small: 100 random transfers with random faults (on the transfer call,
on the history, and the user's own look-alike transfers) and crashes; not one duplicate, not
one lost record, nothing left unknown. The full 1,000-transfer campaign is in bench/
(`python -m bench.fault_campaign --transfers 1000`), so the suite stays fast."""

from __future__ import annotations

from pathlib import Path

from bench.fault_campaign import FAULT_KINDS, run_campaign


async def test_transfers_under_faults_and_crashes(tmp_path: Path) -> None:
    report = await run_campaign(transfers=100, seed=20261121, workdir=tmp_path)
    print("\n" + "\n".join(report.lines()))
    agreement = report.agreement
    assert agreement is not None
    assert report.transfers_tried == 100
    assert sum(report.faults.values()) > 40
    assert set(report.faults) == set(FAULT_KINDS) - {"none"}, report.faults  # every kind fired
    assert sum(report.crashes.values()) > 3
    assert agreement.duplicates == 0
    assert agreement.records_lost == 0
    assert agreement.sums_agree
    # more kinds now lose the answer before applying it: those intents end failed, not resent
    assert agreement.statuses["confirmed"] > 60
    assert agreement.open_rows == 0
    assert agreement.ambiguous == 0  # the campaign's look-alikes can all be told apart
    assert agreement.outside > 2
