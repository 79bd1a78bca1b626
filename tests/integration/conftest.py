"""Integration fixtures: a paper exchange on its own port, configs that point a plain ccxt
binance venue at it through `urls`, and the real CLI driven in-process."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest
import typer.main
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

from bot.cli import app
from bot.paper import (
    PAPER_API_KEY,
    PAPER_SECRET,
    PaperExchangeThread,
    PaperState,
    StateStore,
    binance_urls,
)

KEY_ENV, SECRET_ENV = "TEST_BINANCE_KEY", "TEST_BINANCE_SECRET"


def paper_api_urls(base_url: str) -> dict[str, str]:
    """Every string entry of ccxt binance's urls['api'], pointed at `base_url`."""
    rewritten = binance_urls(base_url, ccxt.binance().urls["api"])
    return {key: url for key, url in rewritten.items() if isinstance(url, str)}


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[PaperExchangeThread]:
    with PaperExchangeThread(StateStore(tmp_path / "paper-state.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
def venue_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)


def live_venue(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A non-paper binance venue that reaches the paper exchange only through `urls`."""
    return {
        "exchange": "binance",
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "urls": paper_api_urls(base_url),
        "ccxt": {"enableRateLimit": False, "timeout": 3000},
        **overrides,
    }


ETH_HEDGE = {
    "venue": "binance",
    "spot": "ETH/USDT",
    "perp": "ETH/USDT:USDT",
    "target_margin_ratio": "0.5",
    "band": ["0.4", "0.6"],
    "spot_reserve": "0",
}


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(venues: dict[str, Any], hedges: dict[str, Any], **extra: Any) -> Path:
        config = {
            "ledger": {"url": "sqlite:///data/ledger.sqlite"},
            "transfers": {"safety": "0.99", "min_amount": "10", "max_amount": None},
            "venues": venues,
            "hedges": hedges,
            **extra,
        }
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return write


@pytest.fixture
def config_file(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path]
) -> Path:
    return write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})


@dataclasses.dataclass
class Invocation:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@functools.cache
def bot_command() -> TyperGroup:
    """The `bot` command tree as `bot` builds it, once per test process: typer builds every
    command's parameters from its signature on each `app(...)` (about 30 ms of CPU, and the
    suite invokes the CLI in-process hundreds of times), and the tree is the same each time."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


@pytest.fixture
def bot() -> Callable[..., Invocation]:
    """Run the real `bot` CLI in-process (in typer's test runner's isolation: its own stdin,
    stdout, stderr), return exit code and output. Exceptions the CLI lets out propagate."""
    runner = CliRunner()

    def invoke(*args: str, config: Path | None = None) -> Invocation:
        argv = (["--config", str(config)] if config else []) + list(args)
        with runner.isolation() as (stdout, stderr, _):
            try:
                bot_command().main(args=argv, prog_name="bot")
                code = 0  # BotGroup.main always exits; kept for a command that returns
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            out, err = stdout.getvalue(), stderr.getvalue()
        return Invocation(code, out.decode(), err.decode())

    return invoke


def edit_state(paper: PaperExchangeThread, change: Callable[[PaperState], PaperState]) -> None:
    """Change the paper exchange's account (on its own loop) as a trader would by trading."""
    paper.call(lambda: paper.store.commit(change(paper.store.state)))


def set_usdm_short(paper: PaperExchangeThread, amount: str, wallet: str | None = None) -> None:
    def change(state: PaperState) -> PaperState:
        positions = tuple(
            dataclasses.replace(p, amount=Decimal(amount))
            if p.symbol == "ETHUSDT" and p.kind == "linear"
            else p
            for p in state.positions
        )
        usdm = dict(state.usdm)
        if wallet is not None:
            usdm["USDT"] = dataclasses.replace(usdm["USDT"], wallet_balance=Decimal(wallet))
        return dataclasses.replace(state, positions=positions, usdm=usdm)

    edit_state(paper, change)


def set_spot(paper: PaperExchangeThread, asset: str, free: str) -> None:
    from bot.paper.model import SpotBalance

    def change(state: PaperState) -> PaperState:
        return dataclasses.replace(
            state, spot={**state.spot, asset: SpotBalance(free=Decimal(free))}
        )

    edit_state(paper, change)
