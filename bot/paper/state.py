"""Persisting the paper exchange's state: a JSON file, rewritten atomically after every change.

A client killed at any moment, or a server restarted, sees exactly what the exchange applied:
the new state reaches disk (temp file, fsync, rename) before it is served or answered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.errors import UserFacingError
from bot.paper.model import (
    CROSS,
    DEFAULT_COMMISSION_RATE,
    Bracket,
    Funding,
    FuturesBalance,
    MarginChange,
    Market,
    MarketKind,
    PaperState,
    Position,
    SpotBalance,
    TransferRecord,
    Wallet,
    default_state,
    now_ms,
)

__all__ = [
    "SCHEMA_VERSION",
    "Bracket",
    "Funding",
    "FuturesBalance",
    "Market",
    "MarketKind",
    "PaperState",
    "Position",
    "SpotBalance",
    "StateStore",
    "TransferRecord",
    "Wallet",
    "default_state",
    "state_from_json",
    "state_to_json",
]

logger = logging.getLogger(__name__)

# Told of every commit: (state before, state after, reason or None).
Observer = Callable[[PaperState, PaperState, str | None], None]

SCHEMA_VERSION = 2
# Schema 1 had no funding and no cross-margin wallet: such a file loads with both empty.
READABLE_SCHEMAS = frozenset({1, SCHEMA_VERSION})


def _d(value: Decimal) -> str:
    return f"{value:f}"


def state_to_json(state: PaperState) -> dict[str, Any]:
    """A JSON-ready dict; every Decimal becomes a string so nothing passes through float."""
    return {
        "schema": SCHEMA_VERSION,
        "markets": [_market_to_json(market) for market in state.markets],
        "spot": _plain_to_json(state.spot),
        "spot_update_time": state.spot_update_time,
        "usdm": _futures_to_json(state.usdm),
        "coinm": _futures_to_json(state.coinm),
        "funding_wallet": _plain_to_json(state.funding_wallet),
        "margin_wallet": _plain_to_json(state.margin_wallet),
        "positions": [
            {
                "kind": position.kind.value,
                "symbol": position.symbol,
                "amount": _d(position.amount),
                "entry_price": _d(position.entry_price),
                "leverage": position.leverage,
                "update_time": position.update_time,
                "commission_rate": _d(position.commission_rate),
                "margin_type": position.margin_type,
                "isolated_wallet": _d(position.isolated_wallet),
            }
            for position in state.positions
        ],
        "mark_prices": {symbol: _d(price) for symbol, price in state.mark_prices.items()},
        "funding": {
            symbol: {
                "rate": _d(funding.rate),
                "next_funding_time": funding.next_funding_time,
                "interval_hours": funding.interval_hours,
            }
            for symbol, funding in state.funding.items()
        },
        "transfers": [
            {
                "tranId": record.tran_id,
                "timestamp": record.timestamp,
                "asset": record.asset,
                "amount": _d(record.amount),
                "type": record.type,
                "status": record.status,
            }
            for record in state.transfers
        ],
        "next_tran_id": state.next_tran_id,
        "margin_changes": [
            {
                "kind": change.kind.value,
                "symbol": change.symbol,
                "type": change.type,
                "amount": _d(change.amount),
                "asset": change.asset,
                "time": change.time,
            }
            for change in state.margin_changes
        ],
    }


def state_from_json(data: Mapping[str, Any]) -> PaperState:
    schema = data.get("schema")
    if isinstance(schema, bool) or schema not in READABLE_SCHEMAS:
        raise ValueError(
            f"paper state schema {schema!r} is not supported (expected {SCHEMA_VERSION}); "
            "delete the state file to start from the default account"
        )
    return PaperState(
        markets=tuple(_market_from_json(item) for item in data["markets"]),
        spot=_plain_from_json(data["spot"]),
        funding_wallet=_plain_from_json(data["funding_wallet"]) if schema >= 2 else {},
        margin_wallet=_plain_from_json(data["margin_wallet"]) if schema >= 2 else {},
        spot_update_time=int(data["spot_update_time"]),
        usdm=_futures_from_json(data["usdm"]),
        coinm=_futures_from_json(data["coinm"]),
        positions=tuple(
            Position(
                kind=MarketKind(item["kind"]),
                symbol=item["symbol"],
                amount=Decimal(item["amount"]),
                entry_price=Decimal(item["entry_price"]),
                leverage=int(item["leverage"]),
                update_time=int(item["update_time"]),
                # absent from files written before break-even prices counted fees
                commission_rate=Decimal(item.get("commission_rate", DEFAULT_COMMISSION_RATE)),
                # absent from files written before isolated margin: cross, as they were
                margin_type=item.get("margin_type", CROSS),
                isolated_wallet=Decimal(item.get("isolated_wallet", "0")),
            )
            for item in data["positions"]
        ),
        mark_prices={symbol: Decimal(price) for symbol, price in data["mark_prices"].items()},
        funding={
            symbol: Funding(
                rate=Decimal(item["rate"]),
                next_funding_time=int(item["next_funding_time"]),
                interval_hours=int(item["interval_hours"]),
            )
            for symbol, item in data["funding"].items()
        },
        transfers=tuple(
            TransferRecord(
                tran_id=int(item["tranId"]),
                timestamp=int(item["timestamp"]),
                asset=item["asset"],
                amount=Decimal(item["amount"]),
                type=item["type"],
                status=item["status"],
            )
            for item in data["transfers"]
        ),
        next_tran_id=int(data["next_tran_id"]),
        margin_changes=tuple(
            MarginChange(
                kind=MarketKind(item["kind"]),
                symbol=item["symbol"],
                type=int(item["type"]),
                amount=Decimal(item["amount"]),
                asset=item["asset"],
                time=int(item["time"]),
            )
            for item in data.get("margin_changes", ())
        ),
    )


def _plain_to_json(balances: Mapping[str, SpotBalance]) -> dict[str, Any]:
    return {
        asset: {"free": _d(balance.free), "locked": _d(balance.locked)}
        for asset, balance in balances.items()
    }


def _plain_from_json(data: Mapping[str, Any]) -> dict[str, SpotBalance]:
    return {
        asset: SpotBalance(free=Decimal(item["free"]), locked=Decimal(item["locked"]))
        for asset, item in data.items()
    }


def _futures_to_json(balances: Mapping[str, FuturesBalance]) -> dict[str, Any]:
    return {
        asset: {"wallet_balance": _d(balance.wallet_balance), "update_time": balance.update_time}
        for asset, balance in balances.items()
    }


def _futures_from_json(data: Mapping[str, Any]) -> dict[str, FuturesBalance]:
    return {
        asset: FuturesBalance(
            wallet_balance=Decimal(item["wallet_balance"]), update_time=int(item["update_time"])
        )
        for asset, item in data.items()
    }


def _market_to_json(market: Market) -> dict[str, Any]:
    return {
        "kind": market.kind.value,
        "symbol": market.symbol,
        "base": market.base,
        "quote": market.quote,
        "margin_asset": market.margin_asset,
        "pair": market.pair,
        "contract_size": _d(market.contract_size),
        "tick_size": _d(market.tick_size),
        "step_size": _d(market.step_size),
        "min_qty": _d(market.min_qty),
        "max_qty": _d(market.max_qty),
        "min_notional": _d(market.min_notional),
        "price_precision": market.price_precision,
        "quantity_precision": market.quantity_precision,
        "onboard_date": market.onboard_date,
        "delivery_date": market.delivery_date,
        "brackets": [
            {
                "bracket": bracket.bracket,
                "floor": _d(bracket.floor),
                "cap": _d(bracket.cap),
                "maint_margin_ratio": _d(bracket.maint_margin_ratio),
                "max_leverage": bracket.max_leverage,
                "cum": _d(bracket.cum),
            }
            for bracket in market.brackets
        ],
    }


def _market_from_json(data: Mapping[str, Any]) -> Market:
    return Market(
        kind=MarketKind(data["kind"]),
        symbol=data["symbol"],
        base=data["base"],
        quote=data["quote"],
        margin_asset=data["margin_asset"],
        pair=data["pair"],
        contract_size=Decimal(data["contract_size"]),
        tick_size=Decimal(data["tick_size"]),
        step_size=Decimal(data["step_size"]),
        min_qty=Decimal(data["min_qty"]),
        max_qty=Decimal(data["max_qty"]),
        min_notional=Decimal(data["min_notional"]),
        price_precision=int(data["price_precision"]),
        quantity_precision=int(data["quantity_precision"]),
        onboard_date=int(data["onboard_date"]),
        # absent from files written before dated futures: every market was a perpetual
        delivery_date=None if data.get("delivery_date") is None else int(data["delivery_date"]),
        brackets=tuple(
            Bracket(
                bracket=int(item["bracket"]),
                floor=Decimal(item["floor"]),
                cap=Decimal(item["cap"]),
                maint_margin_ratio=Decimal(item["maint_margin_ratio"]),
                max_leverage=int(item["max_leverage"]),
                cum=Decimal(item["cum"]),
            )
            for item in data["brackets"]
        ),
    )


class PaperStateUnreadable(UserFacingError):
    """The paper exchange's saved account is not a state file it can read."""


class StateStore:
    """Holds the live state; `commit` persists a new state before making it the live one.

    With `path=None` the state lives in memory only (fast unit tests). A missing file is created
    from `initial` (default: `default_state` at `clock()`, which also fixes where the new
    account's transfer ids start; a test passes its own clock to create accounts at set times).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        initial: PaperState | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._observers: list[Observer] = []
        if path is not None and path.exists():
            self._state = self.load(path)
        else:
            self._state = initial if initial is not None else default_state(now=clock())
            if path is not None:
                self._write(self._state)

    @property
    def state(self) -> PaperState:
        return self._state

    def commit(self, new_state: PaperState, *, reason: str | None = None) -> None:
        """Persist, then publish. If writing fails the live state is unchanged. Observers hear
        (before, after, reason) in commit order; `reason` names the change when the states alone
        cannot tell it (a funding payment), so a push stream can say what happened."""
        with self._lock:
            if self.path is not None:
                self._write(new_state)
            before, self._state = self._state, new_state
            for observer in tuple(self._observers):
                try:
                    observer(before, new_state, reason)
                except Exception:  # a listener's bug must never undo or fail a commit
                    logger.exception("paper state observer failed")

    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        with contextlib.suppress(ValueError):
            self._observers.remove(observer)

    @staticmethod
    def load(path: Path) -> PaperState:
        """The saved account; a file that cannot be read is one line naming it and the fix."""
        try:
            with path.open(encoding="utf-8") as handle:
                return state_from_json(json.load(handle))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            why = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise PaperStateUnreadable(
                f"paper account {path}: unreadable ({why}); run `bot paper reset` to start "
                "over (or restore the file)"
            ) from None

    def _write(self, state: PaperState) -> None:
        assert self.path is not None
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(state_to_json(state), indent=1, sort_keys=False).encode("utf-8")
        fd, temp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
