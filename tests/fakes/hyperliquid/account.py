"""The Hyperliquid fake's account: a spot wallet, a perp (USDC) wallet with cross or isolated
short positions, the ledger of non-funding updates, and the nonces each signer has used.

Arithmetic follows Hyperliquid's documentation ("Margining", "Liquidations"; the info
endpoint's `clearinghouseState`): a position's value is |szi| x markPx, its margin used is that
value over its leverage, its maintenance margin half the initial margin at max leverage
(1 / (2 x maxLeverage) of its value); the cross account value is the perp wallet's USDC plus the
cross positions' unrealized PnL; what may leave the perp wallet (`withdrawable`) is the account
value less the margin used, never below 0. A short's liquidation price is where the account
value meets the maintenance margin.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

USD = Decimal("0.000001")  # the perp wallet keeps USDC to 6 decimals
#: Hyperliquid keeps "the 100 highest nonces per signer" ("Nonces and API wallets")
NONCE_SET = 100
DAY_MS = 86_400_000


def text(value: Decimal, places: Decimal = USD) -> str:
    """A figure as Hyperliquid writes it: a decimal string, trailing zeros dropped."""
    quantized = value.quantize(places, rounding=ROUND_DOWN)
    shown = format(quantized.normalize(), "f")
    return "0.0" if shown in ("0", "-0") else shown


@dataclass
class Perp:
    """One perpetual of the universe (meta) and its context (markPx, funding)."""

    name: str
    sz_decimals: int
    max_leverage: int
    mark: Decimal
    funding: Decimal  # the hourly rate

    @property
    def maintenance_rate(self) -> Decimal:
        return Decimal(1) / (2 * self.max_leverage)


@dataclass
class Position:
    coin: str
    szi: Decimal  # signed size: negative is short
    entry: Decimal
    leverage: int
    isolated: bool = False
    isolated_margin: Decimal = Decimal(0)  # an isolated position's own USDC


@dataclass
class LedgerUpdate:
    time: int
    hash: str
    delta: dict[str, object]


@dataclass
class FundingEntry:
    """One hourly funding payment on a coin: `usdc` positive received, negative paid."""

    time: int
    coin: str
    usdc: Decimal
    szi: Decimal
    rate: Decimal


@dataclass
class Account:
    """All state of the one user the fake serves; every change under `lock`."""

    spot: dict[str, Decimal] = field(
        default_factory=lambda: {"USDC": Decimal("20000"), "UETH": Decimal("5")}
    )
    spot_hold: dict[str, Decimal] = field(default_factory=dict)
    perp_usdc: Decimal = Decimal("4000")
    perps: dict[str, Perp] = field(
        default_factory=lambda: {
            "ETH": Perp("ETH", 4, 25, Decimal("3000"), Decimal("0.0000125")),
            "BTC": Perp("BTC", 5, 40, Decimal("60000"), Decimal("0.00001")),
        }
    )
    positions: dict[str, Position] = field(
        default_factory=lambda: {
            "ETH": Position("ETH", Decimal("-5"), Decimal("3000"), 10),
        }
    )
    #: the user's abstraction mode as `userAbstraction` tells it ("default", "disabled",
    #: "unifiedAccount", "portfolioMargin", "dexAbstraction")
    abstraction: str = "default"
    ledger: list[LedgerUpdate] = field(default_factory=list)
    funding: list[FundingEntry] = field(default_factory=list)
    nonces: dict[str, list[int]] = field(default_factory=dict)  # signer -> highest nonces
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # figures --------------------------------------------------------------------------------

    def value(self, p: Position) -> Decimal:
        return abs(p.szi) * self.perps[p.coin].mark

    def pnl(self, p: Position) -> Decimal:
        return p.szi * (self.perps[p.coin].mark - p.entry)

    def margin_used(self, p: Position) -> Decimal:
        if p.isolated:
            return p.isolated_margin + self.pnl(p)
        return self.value(p) / p.leverage

    def maintenance(self, p: Position) -> Decimal:
        return self.value(p) * self.perps[p.coin].maintenance_rate

    def cross(self) -> list[Position]:
        return [p for p in self.positions.values() if not p.isolated]

    def cross_value(self) -> Decimal:
        return self.perp_usdc + sum((self.pnl(p) for p in self.cross()), Decimal(0))

    def account_value(self) -> Decimal:
        isolated = [p for p in self.positions.values() if p.isolated]
        return self.cross_value() + sum(
            (p.isolated_margin + self.pnl(p) for p in isolated), Decimal(0)
        )

    def withdrawable(self) -> Decimal:
        used = sum((self.value(p) / p.leverage for p in self.cross()), Decimal(0))
        return max(Decimal(0), self.cross_value() - used)

    def spot_free(self, coin: str) -> Decimal:
        return self.spot.get(coin, Decimal(0)) - self.spot_hold.get(coin, Decimal(0))

    def liquidation_price(self, p: Position) -> Decimal | None:
        """Where the short's pool meets its maintenance margin (cross: the whole cross pool,
        the other positions held at their marks)."""
        if p.szi >= 0:
            return None
        size, rate = abs(p.szi), self.perps[p.coin].maintenance_rate
        if p.isolated:
            pool = p.isolated_margin
        else:
            others = [o for o in self.cross() if o.coin != p.coin]
            pool = self.perp_usdc + sum((self.pnl(o) - self.maintenance(o) for o in others), 0)
        price = (pool + size * p.entry) / (size * (1 + rate))
        return price if price > 0 else None

    # answers --------------------------------------------------------------------------------

    def clearinghouse_state(self, now: int) -> dict[str, object]:
        cross = self.cross()
        cross_used = sum((self.value(p) / p.leverage for p in cross), Decimal(0))
        total_used = sum((self.margin_used(p) for p in self.positions.values()), Decimal(0))
        ntl = sum((self.value(p) for p in self.positions.values()), Decimal(0))
        cross_ntl = sum((self.value(p) for p in cross), Decimal(0))
        maintenance = sum((self.maintenance(p) for p in cross), Decimal(0))
        return {
            "marginSummary": {
                "accountValue": text(self.account_value()),
                "totalNtlPos": text(ntl),
                "totalRawUsd": text(self.perp_usdc),
                "totalMarginUsed": text(total_used),
            },
            "crossMarginSummary": {
                "accountValue": text(self.cross_value()),
                "totalNtlPos": text(cross_ntl),
                "totalRawUsd": text(self.perp_usdc),
                "totalMarginUsed": text(cross_used),
            },
            "crossMaintenanceMarginUsed": text(maintenance),
            "withdrawable": text(self.withdrawable()),
            "assetPositions": [self._asset_position(p) for p in self.positions.values()],
            "time": now,
        }

    def _asset_position(self, p: Position) -> dict[str, object]:
        liquidation = self.liquidation_price(p)
        leverage: dict[str, object] = {
            "type": "isolated" if p.isolated else "cross",
            "value": p.leverage,
        }
        if p.isolated:
            leverage["rawUsd"] = text(p.isolated_margin)
        return {
            "type": "oneWay",
            "position": {
                "coin": p.coin,
                "szi": text(p.szi, Decimal(10) ** -self.perps[p.coin].sz_decimals),
                "entryPx": text(p.entry, Decimal("0.1")),
                "positionValue": text(self.value(p)),
                "unrealizedPnl": text(self.pnl(p)),
                "returnOnEquity": "0.0",
                "liquidationPx": text(liquidation, Decimal("0.1")) if liquidation else None,
                "marginUsed": text(self.margin_used(p)),
                "maxLeverage": self.perps[p.coin].max_leverage,
                "leverage": leverage,
                "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
            },
        }

    def spot_clearinghouse_state(self) -> dict[str, object]:
        return {
            "balances": [
                {
                    "coin": coin,
                    "token": TOKENS.index(coin) if coin in TOKENS else 99,
                    "hold": text(self.spot_hold.get(coin, Decimal(0)), Decimal("1e-8")),
                    "total": text(total, Decimal("1e-8")),
                    "entryNtl": "0.0",
                }
                for coin, total in self.spot.items()
            ]
        }

    # moving money ---------------------------------------------------------------------------

    def class_transfer(self, amount: Decimal, to_perp: bool, now: int, tx_hash: str) -> None:
        """Apply a usdClassTransfer (the caller checked the balance) and book its update."""
        if to_perp:
            self.spot["USDC"] = self.spot.get("USDC", Decimal(0)) - amount
            self.perp_usdc += amount
        else:
            self.perp_usdc -= amount
            self.spot["USDC"] = self.spot.get("USDC", Decimal(0)) + amount
        self.ledger.append(
            LedgerUpdate(
                now,
                tx_hash,
                {"type": "accountClassTransfer", "usdc": text(amount), "toPerp": to_perp},
            )
        )

    def set_mark(self, coin: str, price: str) -> None:
        with self.lock:
            self.perps[coin].mark = Decimal(price)

    def applied_transfers(self) -> list[LedgerUpdate]:
        with self.lock:
            return [u for u in self.ledger if u.delta.get("type") == "accountClassTransfer"]


#: spot tokens, by index (spotMeta `tokens`): USDC is token 0 with 8 wei decimals
TOKENS = ["USDC", "UETH", "UBTC"]
