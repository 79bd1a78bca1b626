"""Test hooks: the failures a real exchange inflicts, scheduled on demand.

A test queues faults for a method and path ("the next transfer answers 500 after applying");
the server consumes them in order. Latency and clock offset apply to every request. The plan is
shared between the server's event loop and a test's thread, hence the lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    HTTP_500_BEFORE = "http_500_before"  # answer 500, apply nothing
    HTTP_500_AFTER = "http_500_after"  # apply and persist, then answer 500
    HTTP_429 = "http_429"  # Retry-After + -1003, apply nothing
    TIMEOUT_BEFORE = "timeout_before"  # hang without applying; the client times out
    TIMEOUT_AFTER = "timeout_after"  # apply and persist, then hang
    RESET_AFTER = "reset_after"  # apply and persist, then drop the connection
    ERROR = "error"  # answer `status` with {"code": code, "msg": msg}, apply nothing
    MOVE_PRICE_BEFORE = "move_price_before"  # move a mark price, then handle normally


BEFORE_KINDS = frozenset(
    {FaultKind.HTTP_500_BEFORE, FaultKind.HTTP_429, FaultKind.TIMEOUT_BEFORE, FaultKind.ERROR}
)
AFTER_KINDS = frozenset({FaultKind.HTTP_500_AFTER, FaultKind.TIMEOUT_AFTER, FaultKind.RESET_AFTER})
DEFAULT_HANG_SECONDS = 30.0
ANY = "*"

KNOWN_MESSAGES: Mapping[int, str] = {
    -1000: "An unknown error occurred while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1003: "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. "
    "Please use the websocket for live updates to avoid polling the API.",
    -1006: "An unexpected response was received from the message bus. Execution status unknown.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -5013: "Asset transfer failed: insufficient balance",
}


@dataclass(frozen=True, kw_only=True)
class Fault:
    kind: FaultKind
    method: str = "POST"
    path: str = "/sapi/v1/asset/transfer"
    hang: float = DEFAULT_HANG_SECONDS
    status: int = 400
    code: int = -1000
    msg: str = ""
    symbol: str | None = None
    price: Decimal | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.method in (ANY, method.upper()) and self.path in (ANY, path)

    def error_body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg or KNOWN_MESSAGES.get(self.code, "Error.")}


@dataclass
class _Slot:
    fault: Fault
    remaining: int | None  # None: fires until cleared


@dataclass
class FaultPlan:
    """Queued faults plus global latency and clock offset. Safe to use from any thread."""

    latency: float = 0.0
    clock_offset_ms: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    _slots: list[_Slot] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self,
        kind: str | FaultKind,
        *,
        method: str = "POST",
        path: str = "/sapi/v1/asset/transfer",
        times: int | None = 1,
        hang: float = DEFAULT_HANG_SECONDS,
        status: int = 400,
        code: int = -1000,
        msg: str = "",
        symbol: str | None = None,
        price: Decimal | str | int | None = None,
    ) -> Fault:
        """Queue a fault for the next `times` matching requests (None: every one until cleared).
        `method`/`path` may be "*" to match anything."""
        fault_kind = FaultKind(kind)
        if fault_kind == FaultKind.MOVE_PRICE_BEFORE and (symbol is None or price is None):
            raise ValueError("move_price_before needs symbol= and price=")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (or None for always), got {times}")
        fault = Fault(
            kind=fault_kind,
            method=method.upper(),
            path=path,
            hang=hang,
            status=status,
            code=code,
            msg=msg,
            symbol=symbol,
            price=Decimal(str(price)) if price is not None else None,
        )
        with self._lock:
            self._slots.append(_Slot(fault=fault, remaining=times))
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """Consume the first queued fault matching this request, counting it as fired."""
        with self._lock:
            for index, slot in enumerate(self._slots):
                if not slot.fault.matches(method, path):
                    continue
                if slot.remaining is not None:
                    slot.remaining -= 1
                    if slot.remaining <= 0:
                        del self._slots[index]
                self.fired[slot.fault.kind.value] += 1
                return slot.fault
        return None

    def pending(self) -> list[tuple[Fault, int | None]]:
        with self._lock:
            return [(slot.fault, slot.remaining) for slot in self._slots]

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()

    def reset(self) -> None:
        """Clear queued faults, counters, latency and clock offset."""
        with self._lock:
            self._slots.clear()
            self.fired.clear()
            self.latency = 0.0
            self.clock_offset_ms = 0

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fired": dict(self.fired),
                "pending": [
                    {
                        "kind": slot.fault.kind.value,
                        "method": slot.fault.method,
                        "path": slot.fault.path,
                        "remaining": slot.remaining,
                    }
                    for slot in self._slots
                ],
                "latency": self.latency,
                "clock_offset_ms": self.clock_offset_ms,
            }
