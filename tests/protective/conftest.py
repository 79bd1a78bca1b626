"""The protective-path tests use the integration suite's paper exchange, configs and CLI."""

from tests.integration.conftest import bot, paper, venue_env, write_config

__all__ = ["bot", "paper", "venue_env", "write_config"]
