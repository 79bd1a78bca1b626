"""`bot reconcile --assign ID TRAN_ID`, end to end: the real CLI, the real ccxt client, the paper
exchange. A transfer whose answer was lost (the paper applied it, then reset the connection) is
left unknown; the operator names the venue transfer it is. Every refusal is one
line with the right exit code and leaves the ledger as it was."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.audit.verify import verify_ledger
from bot.config import Config, parse_config
from bot.errors import CorrectionRefused
from bot.ledger import Ledger
from bot.ledger.queries import corrections_of
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread, PaperState
from bot.paper.model import now_ms
from bot.paper.transfers import apply_transfer
from bot.present import output as render
from bot.transfers.assign import assign as assign_transfer
from tests.fakes.coinw_server import API_KEY as COINW_KEY
from tests.fakes.coinw_server import SECRET as COINW_SECRET
from tests.fakes.coinw_server import CoinWFakeServer
from tests.integration.conftest import (
    ETH_HEDGE,
    Invocation,
    edit_state,
    live_venue,
    set_usdm_short,
)
from tests.ledger.items import TOP_UP

Bot = Callable[..., Invocation]


@dataclasses.dataclass
class Lost:
    """A transfer the paper exchange applied whose answer the bot never got."""

    config: Path
    id: int
    tran_id: str
    amount: str


@pytest.fixture
def lost(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> Lost:
    # the answer is lost by a connection reset after the paper applied the transfer: the same
    # unknown outcome as a hang past ccxt's timeout (tests/reliability covers that one), with
    # no wait in each of this module's tests
    venue = live_venue(paper.base_url, ccxt={"enableRateLimit": False, "timeout": 10_000})
    config = write_config({"binance": venue}, {"eth": ETH_HEDGE}, retry={"attempts": 1})
    paper.faults.add("reset_after")
    assert bot("rebalance", config=config).exit_code == 1
    (row,) = rows(bot, config)
    assert row["status"] == "unknown" and row["exchange_id"] is None
    (sent,) = paper.state.transfers  # applied: the money moved
    return Lost(config, row["id"], str(sent.tran_id), row["amount"])


def rows(bot: Bot, config: Path) -> list[dict[str, Any]]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stderr
    return listed.json()  # type: ignore[no-any-return]


def by_hand(paper: PaperExchangeThread, amount: str, transfer_type: str) -> str:
    """A transfer the trader makes on the venue itself; its venue transfer id."""
    made: list[str] = []

    def change(state: PaperState) -> PaperState:
        moved, record = apply_transfer(
            state, asset="USDT", amount=amount, transfer_type=transfer_type, now=now_ms()
        )
        made.append(str(record.tran_id))
        return moved

    edit_state(paper, change)
    return made[0]


def assign(bot: Bot, lost: Lost, *args: str) -> Invocation:
    return bot("reconcile", *args, config=lost.config)


def test_an_operator_settles_a_lost_transfer(
    paper: PaperExchangeThread, lost: Lost, bot: Bot
) -> None:
    # a look-alike: the trader moved the same amount by hand, so the history holds two
    look_alike = by_hand(paper, lost.amount, "MAIN_UMFUTURE")
    reason = "two look-alike transfers; the bot's is the earlier (ticket 4411)"
    result = assign(
        bot, lost, "--assign", str(lost.id), lost.tran_id, "--reason", reason, "--by", "alice"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == (
        f"transfer {lost.id} assigned to venue transfer {lost.tran_id} by alice "
        f"(reason: {reason}); confirmed"
    )
    (row,) = rows(bot, lost.config)
    assert (row["status"], row["exchange_id"], row["attempts"]) == (
        "confirmed",
        lost.tran_id,
        2,
    )
    (correction,) = row["corrections"]
    assert {k: correction[k] for k in ("operator", "reason", "action", "exchange_id")} == {
        "operator": "alice",
        "reason": reason,
        "action": "assign",
        "exchange_id": lost.tran_id,
    }
    assert (correction["previous_status"], correction["new_status"]) == ("unknown", "confirmed")
    assert correction["note"].startswith(
        f"checked against binance's transfer history: {lost.amount}"
    )
    table = bot("ledger", "list", config=lost.config).stdout
    assert "assigned by alice: two look-alike" in " ".join(table.split())
    verify = bot("ledger", "verify", config=lost.config)
    assert verify.exit_code == 0 and "chain intact" in verify.stdout
    # settled: nothing is open, the venue/asset is no longer blocked, nothing is sent twice
    assert bot("reconcile", config=lost.config).stdout.strip() == "Reconcile: nothing open."
    assert bot("rebalance", config=lost.config).exit_code == 0
    # (the look-alike took the hedge above its band: the excess goes back to spot)
    ids = [str(t.tran_id) for t in paper.state.transfers]
    assert ids[:2] == [lost.tran_id, look_alike]
    assert [t.type for t in paper.state.transfers[2:]] == ["UMFUTURE_MAIN"]
    assert look_alike not in {row["exchange_id"] for row in rows(bot, lost.config)}


def test_by_defaults_to_the_login_name(
    lost: Lost, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "carol")
    result = assign(bot, lost, "--assign", str(lost.id), lost.tran_id, "--reason", "ticket 9")
    assert result.exit_code == 0, result.stderr
    assert " by carol (reason: ticket 9); confirmed" in result.stdout
    assert rows(bot, lost.config)[0]["corrections"][0]["operator"] == "carol"


REFUSALS = {
    "wrong amount": (
        2,
        "transfer {id}: venue transfer {other} moved 25 USDT, transfer {id} is {amount} USDT; "
        "the amounts must be equal",
    ),
    "wrong direction": (
        2,
        "transfer {id}: venue transfer {other} went linear -> spot, transfer {id} is "
        "spot -> linear",
    ),
    "unknown to the venue": (
        2,
        "transfer {id}: venue binance lists no USDT transfer {other} between spot and linear "
        "since ",
    ),
    "held by another row": (
        2,
        "transfer {id}: venue binance's transfer {other} is already held by transfer {holder}",
    ),
    "already confirmed": (
        2,
        "transfer {holder}: is confirmed, not pending or unknown; only an open transfer can be "
        "assigned",
    ),
    "no reason": (2, "--reason: required with --assign"),
    "blank reason": (2, "--reason: required with --assign"),
    "no such transfer": (2, "transfer 999: no such transfer in the ledger"),
    "one value": (2, "--assign takes 2 values, got fewer"),
    "bad id": (2, "--assign ID: 'twelve' is not a transfer id"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_are_one_line_and_change_nothing(
    paper: PaperExchangeThread, lost: Lost, bot: Bot, case: str
) -> None:
    target, holder = str(lost.id), ""
    other = lost.tran_id
    if case == "wrong amount":
        other = by_hand(paper, "25", "MAIN_UMFUTURE")
    elif case == "wrong direction":
        other = by_hand(paper, "5", "UMFUTURE_MAIN")
    elif case == "unknown to the venue":
        other = "4242"
    elif case in ("held by another row", "already confirmed"):
        # the lost row is settled first, and holds its venue transfer id from then on
        first = assign(bot, lost, "--assign", target, lost.tran_id, "--reason", "ticket 1")
        assert first.exit_code == 0, first.stderr
        holder = target
        if case == "held by another row":  # a look-alike of the first, lost the same way
            target = str(second_unknown(paper, lost, bot))
        else:
            other = by_hand(paper, lost.amount, "MAIN_UMFUTURE")
    before = rows(bot, lost.config)
    args = {
        "no reason": ["--assign", target, other],
        "blank reason": ["--assign", target, other, "--reason", "  "],
        "no such transfer": ["--assign", "999", other, "--reason", "x"],
        "one value": ["--assign", target],
        "bad id": ["--assign", "twelve", other, "--reason", "x"],
    }.get(case, ["--assign", target, other, "--reason", "ticket 4411", "--by", "alice"])
    result = assign(bot, lost, *args)
    code, expected = REFUSALS[case]
    message = expected.format(id=target, other=other, amount=lost.amount, holder=holder)
    assert result.exit_code == code, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert rows(bot, lost.config) == before
    assert bot("ledger", "verify", config=lost.config).exit_code == 0


def second_unknown(paper: PaperExchangeThread, lost: Lost, bot: Bot) -> int:
    """Another transfer of the same amount, its answer lost the same way: the hedge's futures
    wallet is set back to the quick start's, below the band."""
    set_usdm_short(paper, "-5", wallet="4500")
    paper.faults.add("reset_after")
    assert bot("rebalance", config=lost.config).exit_code == 1
    newest = rows(bot, lost.config)[-1]
    assert newest["status"] == "unknown" and newest["id"] != lost.id
    # the same plan; the amount differs only by each intent's tag
    assert newest["planned_amount"] == rows(bot, lost.config)[0]["planned_amount"]
    return int(newest["id"])


def test_a_venue_that_cannot_be_read_is_exit_1_and_records_nothing(
    paper: PaperExchangeThread, lost: Lost, bot: Bot
) -> None:
    paper.faults.add("http_500_before", method="GET", path="/sapi/v1/asset/transfer", times=None)
    before = rows(bot, lost.config)
    result = assign(bot, lost, "--assign", str(lost.id), lost.tran_id, "--reason", "ticket 1")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: venue binance: ")
    assert "nothing was recorded" in result.stderr and result.stderr.count("\n") == 1
    assert rows(bot, lost.config) == before


@pytest.fixture
async def coinw_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Config]:
    """CoinW (its fake API): a venue with no transfer history API."""
    monkeypatch.setenv("CW_KEY", COINW_KEY)
    monkeypatch.setenv("CW_SECRET", COINW_SECRET)
    async with CoinWFakeServer() as coinw:
        raw = {
            "venues": {
                "coinw": {
                    "exchange": "coinw",
                    "api_key_env": "CW_KEY",
                    "secret_env": "CW_SECRET",
                    "urls": {"rest": coinw.base_url},
                }
            },
            "hedges": {"eth": {**ETH_HEDGE, "venue": "coinw"}},
        }
        yield parse_config(raw, base_dir=tmp_path)


async def test_a_venue_without_history_needs_force_and_is_recorded_unchecked(
    coinw_config: Config,
) -> None:
    ledger = Ledger.open(coinw_config.ledger_url)
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    item = dataclasses.replace(TOP_UP, venue="coinw", to_account="swap", amount=D("100"))
    row = ledger.record_intent(run, item, amount=D("100"), inputs={})
    with pytest.raises(CorrectionRefused) as refused:
        await assign_transfer(
            coinw_config, ledger, row.id, "cw-77", operator="alice", reason="done by hand"
        )
    assert str(refused.value) == (
        f"transfer {row.id}: venue coinw has no transfer history API, so transfer cw-77 cannot "
        "be checked; check it on the venue and add --force"
    )
    assert ledger.get_transfer(row.id).status is TransferStatus.PENDING
    done = await assign_transfer(
        coinw_config, ledger, row.id, "cw-77", operator="alice", reason="done by hand", force=True
    )
    assert not done.checked and done.transfer.status is TransferStatus.CONFIRMED
    assert render.assignment_line(done) == (
        f"transfer {row.id} assigned to venue transfer cw-77 by alice (reason: done by hand); "
        "confirmed, not checked against the venue"
    )
    ((correction,),) = corrections_of(ledger, [row.id]).values()
    assert (
        correction.note
        == "not checked against the venue: coinw has no transfer history API (--force)"
    )
    assert render.correction_note(correction) == (
        "assigned by alice (not checked against the venue): done by hand"
    )
    assert verify_ledger(ledger).ok
    ledger.close()
