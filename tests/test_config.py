"""Config validation: every bad value is one line naming its path and the fix."""

from __future__ import annotations

import copy
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config, parse_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "config.yaml").read_text())


def check(mutate: Any) -> str:
    raw = copy.deepcopy(BASE)
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        parse_config(raw, base_dir=ROOT)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_default_config_is_valid() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.transfers.safety == D("0.99")
    assert config.hedges["eth"].band == (D("0.4"), D("0.6"))
    assert config.ledger_url == f"sqlite:///{ROOT}/data/ledger.sqlite"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["hedges"]["eth"].update(band=[0.7, 0.6]),
            "hedges.eth.band: lower bound 0.7 is above upper 0.6",
        ),
        (
            lambda r: r["hedges"]["eth"].update(band=[0.4]),
            "hedges.eth.band: expected [lower, upper]",
        ),
        (
            lambda r: r["hedges"]["eth"].update(venue="nowhere"),
            "hedges.eth.venue: unknown venue 'nowhere'",
        ),
        (
            lambda r: r["hedges"]["eth"].update(target_margin_ratio=0.9),
            "hedges.eth: target_margin_ratio 0.9 is outside band",
        ),
        (
            lambda r: r["hedges"]["eth"].update(bnad=[0.4, 0.6]),
            "hedges.eth: unknown key 'bnad' (did you mean 'band'?)",
        ),
        (
            lambda r: r["hedges"]["eth"].update(
                target_margin_ration=r["hedges"]["eth"].pop("target_margin_ratio")
            ),
            "hedges.eth: unknown key 'target_margin_ration' (did you mean 'target_margin_ratio'?)",
        ),
        (
            lambda r: r["hedges"]["eth"].update(spot_reserve="ten"),
            "hedges.eth.spot_reserve: 'ten' is not a number; write a decimal such as \"10\"",
        ),
        (
            lambda r: r["transfers"].update(min_amount="lots"),
            "transfers.min_amount: 'lots' is not a number",
        ),
        (lambda r: r["hedges"]["eth"].pop("perp"), "hedges.eth.perp: required key is missing"),
        (
            lambda r: r["hedges"]["eth"].update(target={"liquidation_distance": 0.35}),
            "hedges.eth: give one target: target_margin_ratio: 0.5, or target: "
            "{liquidation_distance: 0.35}",
        ),
        (
            lambda r: r["hedges"]["eth"].pop("target_margin_ratio"),
            "hedges.eth: give one target",
        ),
        (
            lambda r: r["hedges"]["eth"].update(
                target={"liquidation_distance": 0.9}, target_margin_ratio=None
            ),
            "hedges.eth: target.liquidation_distance 0.9 is outside band [0.4, 0.6]",
        ),
        (
            lambda r: r["hedges"]["eth"].update(
                target={"liquidation_distanse": 0.5}, target_margin_ratio=None
            ),
            "hedges.eth.target: unknown key 'liquidation_distanse' (did you mean "
            "'liquidation_distance'?)",
        ),
        (
            lambda r: r["hedges"]["eth"].update(funding_buffer={"periods": -1}),
            "hedges.eth.funding_buffer.periods: Input should be greater than or equal to 0",
        ),
        (
            lambda r: r["hedges"]["eth"].update(funding_buffer={"periods": 3, "hours": 24}),
            "hedges.eth.funding_buffer: give periods (payments) or hours",
        ),
        (
            lambda r: r["hedges"]["eth"].update(hedge_tolerance=1.5),
            "hedges.eth.hedge_tolerance: must be in [0, 1)",
        ),
        (lambda r: r["transfers"].update(safety=1.5), "transfers.safety: must be in (0, 1]"),
        (lambda r: r["transfers"].update(safety=0), "transfers.safety: must be in (0, 1]"),
        (
            lambda r: r["transfers"].update(min_amount={"USDT": "-1"}),
            "transfers.min_amount: must not be negative",
        ),
        (
            lambda r: r["venues"]["paper"].update(ccxt={"secret": "x"}),
            "venues.paper.ccxt: secret must not be in config",
        ),
        (
            lambda r: r["venues"]["paper"].update(colour="red"),
            "venues.paper: unknown key 'colour' (allowed: exchange",
        ),
        (lambda r: r.update(hedge={}), "unknown key 'hedge' (did you mean 'hedges'?)"),
        (
            lambda r: r["ledger"].update(url="postgresql+psycopg://bot:hunter2@db/bot"),
            "ledger.url: a password must not be in config",
        ),
    ],
)
def test_bad_config_names_the_path(mutate: Any, expected: str) -> None:
    assert expected in check(mutate)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config PATH or set BOT_CONFIG"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("venues:\n  paper: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = parse_config({**BASE, "ledger": {"url": "sqlite:///db/l.sqlite"}}, base_dir=tmp_path)
    assert config.ledger_url == f"sqlite:///{tmp_path}/db/l.sqlite"


def test_the_data_dir_does_not_depend_on_the_ledgers_backend(tmp_path: Path) -> None:
    """data/ beside the config for SQLite and PostgreSQL alike (a PostgreSQL ledger once put
    it beside /etc/bot/config.yaml, read-only under the unit); `data_dir` moves it, relative
    to the config's folder or absolute."""
    for url in ("sqlite:///db/l.sqlite", "postgresql+psycopg://bot@db.example/bot"):
        config = parse_config({**BASE, "ledger": {"url": url}}, base_dir=tmp_path)
        assert config.data_dir == tmp_path / "data", url
        moved = parse_config(
            {**BASE, "ledger": {"url": url}, "data_dir": "state"}, base_dir=tmp_path
        )
        assert moved.data_dir == tmp_path / "state"
        fixed = parse_config({**BASE, "data_dir": "/var/lib/bot"}, base_dir=tmp_path)
        assert fixed.data_dir == Path("/var/lib/bot")


def test_per_asset_minimum_must_name_every_asset() -> None:
    config = parse_config({**BASE, "transfers": {"min_amount": {"USDT": "10"}}}, base_dir=ROOT)
    assert config.transfers.min_for("USDT") == D(10)
    with pytest.raises(ConfigError, match=r"transfers.min_amount: no entry for BTC"):
        config.transfers.min_for("BTC")


def test_a_config_named_by_the_environment_is_named_in_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "from-env.yaml"
    path.write_text("venues: {paper: {exchange: binance, paper: true, colour: red}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, from_env=True)
    assert str(info.value).startswith(f"{path} (from BOT_CONFIG): venues.paper: unknown key")


def test_a_liquidation_target_with_a_funding_buffer_parses() -> None:
    raw = copy.deepcopy(BASE)
    raw["hedges"]["eth"].pop("target_margin_ratio")
    raw["hedges"]["eth"].update(
        target={"liquidation_distance": "0.35"},
        band=["0.25", "0.50"],
        funding_buffer={"periods": 3},
        funding_alert_periods=2,
        hedge_tolerance="0.05",
        spot_leg_wallets=["funding"],
    )
    hedge = parse_config(raw, base_dir=ROOT).hedges["eth"]
    assert hedge.target_value == D("0.35") and hedge.target_margin_ratio is None
    assert hedge.funding_buffer is not None and hedge.funding_buffer.periods == 3
    assert (hedge.funding_alert_periods, hedge.hedge_tolerance) == (2, D("0.05"))
    assert hedge.spot_leg_wallets == ("funding",) and hedge.base == "ETH"
