"""The carry section of `bot report`: the period's carry per hedge, per venue and in total as
an HTML table, with the formula and what it leaves out (`bot carry` shows the same figures)."""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from bot.config import Config
from bot.funding.carry_ledger import load_carry
from bot.ledger.store import Ledger
from bot.present import carry as render

#: the period when the report is asked for everything (`--since` not given)
WHOLE_PERIOD = timedelta(days=3650)


def carry_section(
    config: Config, ledger: Ledger, *, since: datetime | None, generated_at: datetime
) -> str:
    """`<h2>carry</h2>` and its table, over the report's period."""
    start = since if since is not None else generated_at - WHOLE_PERIOD
    report = load_carry(ledger, config, start, generated_at)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in render.HEADERS)
    numeric = set(render.HEADERS[3:])
    body = []
    for row in render.table_rows(report):
        cells = "".join(
            ("<td class='num'>" if header in numeric else "<td>") + html.escape(cell) + "</td>"
            for header, cell in zip(render.HEADERS, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    notes = [render.FORMULA, render.TRANSFER_FEES, report.not_read, *report.notes]
    return "\n".join(
        [
            "<h2 id='carry'>carry</h2>",
            "<table id='carry-table'><thead><tr>"
            + head
            + "</tr></thead><tbody>"
            + "".join(body)
            + "</tbody></table>",
            *(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
        ]
    )
