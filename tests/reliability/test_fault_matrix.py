"""The venue layer's fault matrix: every read endpoint answering badly, as venues do during
incidents. For each case: nothing is sent on that venue, the error names what was wrong, no
traceback, and a healthy venue in the same config still rebalances (design invariants 10, 11).

Two paper exchanges: `sick` (a plain binance venue reaching one through `urls`, with the fault
queued) and `paper` (a healthy one). Both start below their band and need a 3000 USDT top-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, parse_config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

ACCOUNT, POSITIONS, SPOT = "/fapi/v3/account", "/fapi/v3/positionRisk", "/api/v3/account"
EMPTY = {"status": 200, "body": "", "content_type": "application/json"}
HTML = {"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"}
TRUNCATED = {
    "status": 200,
    "body": '{"assets": [{"asset": "USDT", ',
    "content_type": "application/json",
}


def body(text: str) -> dict[str, Any]:
    return {"status": 200, "body": text, "content_type": "application/json"}


def mutated(*mutations: dict[str, Any]) -> dict[str, Any]:
    return {"mutations": list(mutations)}


def set_(path: str, value: Any, raw: bool = False) -> dict[str, Any]:
    return {"op": "set", "path": path, "value": value, **({"raw_number": True} if raw else {})}


# (endpoint, fault, what the one-line error must say)
CASES: list[tuple[str, dict[str, Any], str]] = [
    # the futures account: an unreadable one must never read as an empty wallet
    (ACCOUNT, EMPTY, "GET /fapi/v3/account"),
    (ACCOUNT, HTML, "fapi"),
    (ACCOUNT, TRUNCATED, "fapi"),
    (ACCOUNT, body("{}"), "GET /fapi/v3/account: the answer is {}"),
    (ACCOUNT, body("[]"), "GET /fapi/v3/account: the answer is []"),
    (ACCOUNT, mutated({"op": "delete", "path": "assets"}), "answer.assets is missing"),
    (ACCOUNT, mutated(set_("assets", "USDT")), "assets is 'USDT', not a non-empty list"),
    (ACCOUNT, mutated(set_("assets", [])), "assets is [], not a non-empty list"),
    (ACCOUNT, mutated({"op": "duplicate", "path": "assets.0"}), "two entries for asset"),
    (ACCOUNT, mutated(set_("assets.*.maxWithdrawAmount", None)), "maxWithdrawAmount is null"),
    (
        ACCOUNT,
        mutated({"op": "delete", "path": "assets.*.maxWithdrawAmount"}),
        "maxWithdrawAmount is missing",
    ),
    (ACCOUNT, mutated(set_("assets.*.maxWithdrawAmount", "-5")), "cannot be negative"),
    (ACCOUNT, mutated(set_("assets.*.maxWithdrawAmount", "NaN")), "not a finite number"),
    (ACCOUNT, mutated(set_("assets.*.walletBalance", "Infinity")), "not a finite number"),
    (ACCOUNT, mutated(set_("assets.*.walletBalance", "1e30", raw=True)), "absurdly large"),
    (ACCOUNT, mutated(set_("assets.*.asset", None)), "asset is null"),
    (
        ACCOUNT,
        body('{"assets": [], "positions": [], "assets": []}'),
        "GET /fapi/v3/account: key 'assets' appears twice in one object",
    ),
    # positions: an unreadable one must never read as flat
    (POSITIONS, EMPTY, "positionRisk"),
    (POSITIONS, HTML, "positionRisk"),
    (POSITIONS, body('[{"symbol": "ETHUSDT", '), "positionRisk"),
    (POSITIONS, body("{}"), "not a list"),
    (POSITIONS, body('{"code": 0}'), "not a list"),
    (POSITIONS, body("[]"), "initial margin for it; the two reads disagree"),
    (POSITIONS, mutated(set_("*.markPrice", "0")), "markPrice is '0'; it must be above 0"),
    (POSITIONS, mutated(set_("*.notional", "0")), "notional is 0 for an open position"),
    (POSITIONS, mutated(set_("*.positionAmt", "NaN")), "positionAmt is 'NaN', not a finite"),
    (POSITIONS, mutated(set_("*.positionAmt", None)), "positionAmt is null"),
    (POSITIONS, mutated(set_("*.positionAmt", "0")), "the two reads disagree"),
    (POSITIONS, mutated(set_("*.positionAmt", "5")), "is long 5 contracts"),
    (POSITIONS, mutated({"op": "duplicate", "path": "0"}), "two rows for ETHUSDT (hedge mode"),
    (POSITIONS, mutated(set_("*.positionSide", "SHORT")), "hedge mode is not supported"),
    # spot
    (SPOT, EMPTY, "account"),
    (SPOT, HTML, "account"),
    (SPOT, body("{}"), "GET /api/v3/account: the answer is {}"),
    (SPOT, mutated({"op": "delete", "path": "balances"}), "answer.balances is missing"),
    (SPOT, mutated({"op": "duplicate", "path": "balances.0"}), "two entries for asset"),
    (SPOT, mutated(set_("balances.*.free", "NaN")), "not a finite number"),
    (SPOT, mutated(set_("balances.*.free", "-1")), "cannot be negative"),
]


@pytest.fixture
async def exchanges(tmp_path: Path) -> AsyncIterator[tuple[PaperExchange, PaperExchange]]:
    async with (
        PaperExchange(StateStore(tmp_path / "sick.json"), test_hooks=True) as sick,
        PaperExchange(StateStore(tmp_path / "healthy.json"), test_hooks=True) as healthy,
    ):
        yield sick, healthy


@pytest.fixture
def config(
    exchanges: tuple[PaperExchange, PaperExchange],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Config:
    sick, healthy = exchanges
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    raw = {
        "ledger": {"url": "sqlite:///data/ledger.sqlite"},
        "retry": {"attempts": 1, "initial_backoff_seconds": 0},
        "venues": {
            "sick": live_venue(sick.base_url, websocket=False),
            "healthy": live_venue(healthy.base_url, websocket=False),
        },
        "hedges": {
            "eth_sick": {**ETH_HEDGE, "venue": "sick"},
            "eth_healthy": {**ETH_HEDGE, "venue": "healthy"},
        },
    }
    return parse_config(raw, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("path", "fault", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
async def test_a_bad_read_moves_nothing_on_its_venue_and_never_stops_another(
    exchanges: tuple[PaperExchange, PaperExchange],
    config: Config,
    path: str,
    fault: dict[str, Any],
    expected: str,
) -> None:
    sick, healthy = exchanges
    sick.faults.add("override", method="GET", path=path, times=None, **fault)
    ledger = Ledger.open(config.ledger_url)
    try:
        result = await rebalance(config, ledger, dry_run=False)
    finally:
        ledger.close()
    assert sick.state.transfers == ()  # nothing sent on the venue whose read was bad
    assert set(result.venue_errors) == {"sick"}, result.venue_errors
    message = str(result.venue_errors["sick"])
    assert "\n" not in message and "Traceback" not in message
    assert expected in message, message
    assert result.failed  # exit 1: somebody should look
    assert [(t.venue, t.status) for t in result.transfers] == [
        ("healthy", TransferStatus.CONFIRMED)
    ]
    assert len(healthy.state.transfers) == 1
    assert sick.faults.report().get("errors", []) == []  # every override path matched
