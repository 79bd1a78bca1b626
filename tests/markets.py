"""The perpetual markets the policy tests plan against, said once."""

from __future__ import annotations

from decimal import Decimal as D

from bot.model import MarketKind, PerpMarket


def linear_perp(base: str) -> PerpMarket:
    """`BASE/USDT:USDT`, one base per contract, margined in the USD-M (`linear`) wallet."""
    return PerpMarket(
        symbol=f"{base}/USDT:USDT",
        kind=MarketKind.LINEAR,
        base=base,
        quote="USDT",
        settle="USDT",
        contract_size=D(1),
        futures_account="linear",
    )


ETH_PERP = linear_perp("ETH")
BTC_PERP = linear_perp("BTC")


def inverse_perp(base: str, contract_size: str) -> PerpMarket:
    """`BASE/USD:BASE`, contracts of `contract_size` USD, margined in the COIN-M (`inverse`)
    wallet in the coin."""
    return PerpMarket(
        symbol=f"{base}/USD:{base}",
        kind=MarketKind.INVERSE,
        base=base,
        quote="USD",
        settle=base,
        contract_size=D(contract_size),
        futures_account="inverse",
    )
