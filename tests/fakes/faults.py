"""Faults a venue fake answers instead of (or after) serving a request, by METHOD + path, for
the next N calls or standing: the kinds the exactly-once matrix of a transfer is built from,
the same on every venue's fake, each fake writing its own answers (its rate limit, its error
codes). `FaultBook` holds them; a venue whose fake answers other kinds (Binance's error codes,
a hang before applying) subclasses it with its own `add`.

- `FAIL_BEFORE`: an HTTP 5xx, nothing applied (default 503 with a plain-text body, as a
  gateway in front of the API answers: the client sees no venue code).
- `FAIL_AFTER`: the request is applied, then an HTTP 5xx is answered instead of its reply.
- `TIMEOUT_AFTER`: the request is applied, then the answer is held for `hold` seconds (longer
  than the client's timeout) or until the server stops.
- `RATE_LIMITED`: the venue's rate limit, nothing applied (its body written by the fake).
- `RAW`: a body served verbatim (status 200 unless given), nothing applied: a garbage answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FAIL_BEFORE = "5xx_before"
FAIL_AFTER = "5xx_after"
TIMEOUT_BEFORE = "timeout_before"
TIMEOUT_AFTER = "timeout_after"
RATE_LIMITED = "rate_limited"
RAW = "raw"
KINDS = (FAIL_BEFORE, FAIL_AFTER, TIMEOUT_AFTER, RATE_LIMITED, RAW)

GATEWAY_BODY = "Service Unavailable"


@dataclass
class Fault:
    method: str
    path: str
    kind: str
    times: int | None  # None: standing until cleared
    status: int
    body: str
    hold: float = 30.0
    served: int = 0

    @property
    def applies(self) -> bool:
        """Whether the request is applied before the fault answers."""
        return self.kind in (FAIL_AFTER, TIMEOUT_AFTER)

    @property
    def holds(self) -> bool:
        """Whether the answer is held past the client's timeout."""
        return self.kind in (TIMEOUT_BEFORE, TIMEOUT_AFTER)


@dataclass
class FaultBook:
    """The pending faults of one fake, taken by the calls they answer."""

    pending: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this call, if any (one use of it is spent)."""
        with self._lock:
            for fault in self.pending:
                if fault.method == method and fault.path == path:
                    fault.served += 1
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.pending.remove(fault)
                    return fault
        return None

    def keep(self, fault: Fault) -> Fault:
        with self._lock:
            self.pending.append(fault)
        return fault

    def clear(self, method: str | None = None, path: str | None = None) -> None:
        """Drop the pending faults (of METHOD and/or `path` only, where given)."""
        with self._lock:
            self.pending = [
                f
                for f in self.pending
                if (method is not None and f.method != method.upper())
                or (path is not None and f.path != path)
            ]


class Faults(FaultBook):
    """The kinds every fake answers alike (`KINDS`)."""

    def add(
        self,
        method: str,
        path: str,
        kind: str,
        *,
        times: int | None = 1,
        status: int | None = None,
        body: str | None = None,
        hold: float = 30.0,
    ) -> Fault:
        """Answer the next `times` calls of METHOD `path` (None: every call) with `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (kinds: {', '.join(KINDS)})")
        if kind in (FAIL_BEFORE, FAIL_AFTER):
            status, body = status or 503, GATEWAY_BODY if body is None else body
        elif kind == RAW:
            if body is None:
                raise ValueError("a RAW fault needs body=")
            status = status or 200
        else:  # the rate limit's body is written when answered (it carries the time)
            status, body = status or 200, body or ""
        return self.keep(Fault(method.upper(), path, kind, times, status, body, hold))
