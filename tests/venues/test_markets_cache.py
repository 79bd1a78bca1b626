"""The markets cache hands back only what is fresh and was saved for the same key."""

from __future__ import annotations

from pathlib import Path

from bot.venues.markets_cache import MarketsCache, cache_key

MARKETS = {"ETH/USDT": {"id": "ETHUSDT", "spot": True}}
CURRENCIES = {"USDT": {"precision": 1e-08}}


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fresh_markets_come_back_stale_ones_do_not(tmp_path: Path) -> None:
    clock = Clock()
    cache = MarketsCache(tmp_path, ttl_seconds=60, clock=clock)
    key = cache_key("binance", {"fetchMarkets": {"types": ["spot"]}}, {})
    cache.store("paper", key, MARKETS, CURRENCIES)
    assert cache.load("paper", key) == (MARKETS, CURRENCIES)
    clock.now += 61
    assert cache.load("paper", key) is None


def test_another_key_or_a_broken_file_is_a_miss(tmp_path: Path) -> None:
    cache = MarketsCache(tmp_path)
    key = cache_key("binance", {}, {"public": "https://api.binance.com"})
    cache.store("v", key, MARKETS, CURRENCIES)
    assert cache.load("v", cache_key("binance", {}, {"public": "http://127.0.0.1:1"})) is None
    (tmp_path / "markets-v.json").write_text("{not json")
    assert cache.load("v", key) is None
