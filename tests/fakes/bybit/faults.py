"""The Bybit fake's faults: the venue-neutral kinds of `tests/fakes/faults.py`, and Bybit's
rate-limit answer, HTTP 200 with `{"retCode": 10006, "retMsg": "Too many visits!"}` and the
limit headers at 0 remaining (Rate Limit Rules, https://bybit-exchange.github.io/docs/v5/rate-limit).
"""

from __future__ import annotations

from tests.fakes.faults import (
    FAIL_AFTER,
    FAIL_BEFORE,
    GATEWAY_BODY,
    KINDS,
    RATE_LIMITED,
    RAW,
    TIMEOUT_AFTER,
    Fault,
    Faults,
)

TOO_MANY_VISITS = "Too many visits!"

__all__ = [
    "FAIL_AFTER",
    "FAIL_BEFORE",
    "GATEWAY_BODY",
    "KINDS",
    "RATE_LIMITED",
    "RAW",
    "TIMEOUT_AFTER",
    "TOO_MANY_VISITS",
    "Fault",
    "Faults",
]
