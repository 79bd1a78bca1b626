"""The README's configuration example is a config the bot accepts: a reader copies it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import load_config

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_configuration_example_loads(tmp_path: Path) -> None:
    section = README.read_text().split("## Configuration", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match is not None, "no yaml block under ## Configuration"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(match.group(1))
    loaded = load_config(config_file)
    assert loaded.hedges["eth-multi"].collateral == ("USDT", "ETH")
    assert loaded.transfers.min_for("ETH") > 0
    assert {h.venue for h in loaded.hedges.values()} <= set(loaded.venues)
