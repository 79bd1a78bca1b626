"""Isolated-margin tests use the integration suite's paper exchange, configs and CLI runner,
and the paper suite's in-process exchange and ccxt client."""

from tests.integration.conftest import bot, paper, venue_env, write_config
from tests.paper.conftest import client, client_factory, exchange, state_path

__all__ = [
    "bot",
    "client",
    "client_factory",
    "exchange",
    "paper",
    "state_path",
    "venue_env",
    "write_config",
]
