"""Test hooks: the failures a real exchange inflicts, scheduled on demand.

A test queues faults for a method and path ("the next transfer answers 500 after applying");
the server consumes them in order. Latency and clock offset apply to every request. The plan is
shared between the server's event loop and a test's thread, hence the lock.

Which requests a fault matches: REST by HTTP method and path ("GET", "/fapi/v3/account"); the
WebSocket API (/ws-dapi/v1) by method "WS" and the WebSocket method name as the path ("WS",
"account.balance"). Either may be "*".

Overrides (kind "override") make any endpoint answer badly, for tests of what a client does with
a malformed answer. One of:
- a raw answer: `body` (text, sent as it is), `status` (default 200), `content_type` (default
  application/json; "" sends none of ours: aiohttp then labels a non-empty body
  application/octet-stream), extra `headers`.
  With `apply=False` (the default) nothing runs; with `apply=True` the real handler runs first
  (a transfer is applied and persisted) and only its answer is replaced. On the WebSocket API
  the body is the text frame sent back; status, content type and headers do not exist there.
- a mutated answer: `mutations`, a list of {"op", "path", "value"?, "raw_number"?}. The real
  handler runs (so `apply` is always true), then its JSON answer (success or error) is changed
  in order and re-encoded; `status` replaces the real status if given. A path is dot-separated:
  a key of an object, a number indexing a list (negative from the end), or "*" for every element
  of a list (every value of an object): "assets.0.maxWithdrawAmount", "*.markPrice". On the
  WebSocket API the path starts at the whole frame: "result.0.withdrawAvailable", "id".
  Ops: "set" puts `value` (any JSON) there, creating an object key; path "" replaces the whole
  body. With `raw_number: true`, `value` is number text ("1e30", "NaN", "-Infinity") written
  unquoted as it is. "delete" removes the key or element ("*" empties the list). "duplicate"
  appends a copy of a list element to its list ("*" doubles the list).
  A path that does not resolve answers HTTP 500 (a text frame on the WebSocket API) saying so,
  and is listed under `errors` in the report, so a mistyped path cannot pass as a fault.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.paper.wire import RawNumber


class FaultKind(StrEnum):
    HTTP_500_BEFORE = "http_500_before"  # answer 500, apply nothing
    HTTP_500_AFTER = "http_500_after"  # apply and persist, then answer 500
    HTTP_429 = "http_429"  # Retry-After + -1003, apply nothing
    TIMEOUT_BEFORE = "timeout_before"  # hang without applying; the client times out
    TIMEOUT_AFTER = "timeout_after"  # apply and persist, then hang
    RESET_AFTER = "reset_after"  # apply and persist, then drop the connection
    ERROR = "error"  # answer `status` with {"code": code, "msg": msg}, apply nothing
    MOVE_PRICE_BEFORE = "move_price_before"  # move a mark price, then handle normally
    OVERRIDE = "override"  # answer a given raw body, or the real answer mutated (see above)


BEFORE_KINDS = frozenset(
    {FaultKind.HTTP_500_BEFORE, FaultKind.HTTP_429, FaultKind.TIMEOUT_BEFORE, FaultKind.ERROR}
)
AFTER_KINDS = frozenset({FaultKind.HTTP_500_AFTER, FaultKind.TIMEOUT_AFTER, FaultKind.RESET_AFTER})
DEFAULT_HANG_SECONDS = 30.0
ANY = "*"
WS_METHOD = "WS"  # the method of WebSocket API requests; their path is the ws method name
JSON_CONTENT_TYPE = "application/json"
_INDEX = re.compile(r"^-?[0-9]+$")

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


class MutationOp(StrEnum):
    SET = "set"
    DELETE = "delete"
    DUPLICATE = "duplicate"


class MutationError(ValueError):
    """A mutation whose path does not resolve in the answer it was meant to change."""


_MUTATION_FIELDS = frozenset({"op", "path", "value", "raw_number"})


@dataclass(frozen=True, kw_only=True)
class Mutation:
    """One change to a JSON answer; see the module docstring for paths and ops."""

    op: MutationOp
    path: str
    value: Any = None  # JSON-ready: None, bool, int, str, Decimal, list, dict, or RawNumber

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | Mutation) -> Mutation:
        """Validate a mutation given as JSON ({"op", "path", "value", "raw_number"})."""
        if isinstance(spec, Mutation):
            return spec
        if not isinstance(spec, Mapping):
            raise ValueError(f"a mutation must be an object, got {spec!r}")
        unknown = set(spec) - _MUTATION_FIELDS
        if unknown:
            raise ValueError(f"unknown mutation fields {sorted(unknown)}")
        try:
            op = MutationOp(spec.get("op"))
        except ValueError as error:
            known = [o.value for o in MutationOp]
            raise ValueError(
                f"mutation 'op' must be one of {known}, got {spec.get('op')!r}"
            ) from error
        path = spec.get("path")
        if not isinstance(path, str):
            raise ValueError(f"mutation 'path' must be a string, got {path!r}")
        if path and any(segment == "" for segment in path.split(".")):
            raise ValueError(f"mutation path {path!r} has an empty segment")
        if path == "" and op != MutationOp.SET:
            raise ValueError(f"{op.value} needs a path; only set may replace the whole body")
        raw_number = spec.get("raw_number", False)
        if not isinstance(raw_number, bool):
            raise ValueError("mutation 'raw_number' must be true or false")
        if op != MutationOp.SET:
            if "value" in spec or raw_number:
                raise ValueError(f"{op.value} takes no value")
            return cls(op=op, path=path)
        if "value" not in spec:
            raise ValueError(f"set at {path!r} needs a 'value' (null is a value)")
        value = spec["value"]
        if raw_number:
            return cls(op=op, path=path, value=RawNumber(_number_text(value)))
        return cls(op=op, path=path, value=_json_value(value, path))

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.split(".")) if self.path else ()


def _number_text(value: Any) -> str:
    """Text that Python's json (ccxt's parser) reads as a number: a JSON number such as "1e30",
    or "NaN", "Infinity", "-Infinity". Anything else would break the whole body, which is what
    a raw `body` is for."""
    problem = ValueError(f"a raw_number value must be number text such as '1e30', got {value!r}")
    if not isinstance(value, str) or value != value.strip():
        raise problem
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise problem from error
    if isinstance(parsed, bool) or not isinstance(parsed, int | float):
        raise problem
    return value


def _json_value(value: Any, path: str) -> Any:
    """A value ready for the wire encoder: floats become Decimal (by their shortest text), so
    nothing is rounded on the way; non-finite numbers need raw_number."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"set at {path!r}: {value} is not JSON; use raw_number")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"set at {path!r}: {value} is not JSON; use raw_number")
        return value
    if value is None or isinstance(value, bool | int | str | RawNumber):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, path) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"set at {path!r}: object keys must be strings")
        return {key: _json_value(item, path) for key, item in value.items()}
    raise ValueError(f"set at {path!r}: {type(value).__name__} is not a JSON value")


def _thaw(payload: Any) -> Any:
    """A mutable deep copy of a handler's answer (tuples and mappings become lists and dicts)."""
    if isinstance(payload, Mapping):
        return {key: _thaw(item) for key, item in payload.items()}
    if isinstance(payload, list | tuple):
        return [_thaw(item) for item in payload]
    return payload


def _index(node: list[Any], segment: str, mutation: Mutation) -> int:
    if not _INDEX.match(segment):
        raise MutationError(f"{mutation.path!r}: {segment!r} does not index a list")
    index = int(segment)
    if not -len(node) <= index < len(node):
        raise MutationError(f"{mutation.path!r}: index {index} is outside a list of {len(node)}")
    return index


def _children(node: Any, segment: str, mutation: Mutation) -> list[Any]:
    if isinstance(node, list):
        return list(node) if segment == ANY else [node[_index(node, segment, mutation)]]
    if isinstance(node, dict):
        if segment == ANY:
            return list(node.values())
        if segment not in node:
            raise MutationError(f"{mutation.path!r}: no key {segment!r}")
        return [node[segment]]
    raise MutationError(f"{mutation.path!r}: {segment!r} steps into {type(node).__name__}")


def _change(node: Any, segment: str, mutation: Mutation) -> None:
    """Apply `mutation` to `segment` of the list or object `node`."""
    if not isinstance(node, list | dict):
        raise MutationError(f"{mutation.path!r}: {segment!r} is inside {type(node).__name__}")
    if mutation.op == MutationOp.DUPLICATE:
        if not isinstance(node, list):
            raise MutationError(f"{mutation.path!r}: duplicate copies a list element, not a key")
        originals = list(node) if segment == ANY else [node[_index(node, segment, mutation)]]
        node.extend(copy.deepcopy(item) for item in originals)
        return
    if segment == ANY:
        if mutation.op == MutationOp.DELETE:
            node.clear()
        else:
            keys = range(len(node)) if isinstance(node, list) else list(node)
            for key in keys:
                node[key] = copy.deepcopy(mutation.value)
        return
    if isinstance(node, list):
        index = _index(node, segment, mutation)
        if mutation.op == MutationOp.DELETE:
            del node[index]
        else:
            node[index] = copy.deepcopy(mutation.value)
        return
    if mutation.op == MutationOp.DELETE:
        if segment not in node:
            raise MutationError(f"{mutation.path!r}: no key {segment!r} to delete")
        del node[segment]
    else:
        node[segment] = copy.deepcopy(mutation.value)


def mutate(payload: Any, mutations: Sequence[Mutation]) -> Any:
    """A changed copy of a JSON answer; raises MutationError when a path does not resolve."""
    result = _thaw(payload)
    for mutation in mutations:
        if not mutation.segments:
            result = copy.deepcopy(mutation.value)
            continue
        *parents, last = mutation.segments
        nodes = [result]
        for segment in parents:
            nodes = [child for node in nodes for child in _children(node, segment, mutation)]
        for node in nodes:
            _change(node, last, mutation)
    return result


@dataclass(frozen=True, kw_only=True)
class Override:
    """How an override answers: a raw `body`, or the real answer changed by `mutations`."""

    body: str | None = None
    status: int | None = None  # None: 200 for a raw body, the real status for mutations
    content_type: str = JSON_CONTENT_TYPE  # "": no Content-Type header of ours
    headers: Mapping[str, str] = field(default_factory=dict)
    apply: bool = False  # run the real handler first (always, with mutations)
    mutations: tuple[Mutation, ...] = ()

    def mutate(self, payload: Any) -> Any:
        return mutate(payload, self.mutations)


def _override(
    *,
    method: str,
    body: str | None,
    status: int | None,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    apply: bool | None,
    mutations: Sequence[Mapping[str, Any] | Mutation],
) -> Override:
    if isinstance(mutations, str | Mapping):
        raise ValueError("mutations must be a list of {op, path, value} objects")
    if (body is None) == (not mutations):
        raise ValueError("an override needs either body= (a raw answer) or mutations=")
    if body is not None and not isinstance(body, str):
        raise ValueError(f"override body must be text, got {type(body).__name__}")
    parsed = tuple(Mutation.parse(spec) for spec in mutations)
    if parsed and apply is False:
        raise ValueError("mutations change the real answer, so the handler always runs")
    if status is not None and (
        not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
    ):
        raise ValueError(f"override status must be an HTTP status 100-599, got {status!r}")
    if content_type is not None and not isinstance(content_type, str):
        raise ValueError("override content_type must be text")
    if headers is not None and not isinstance(headers, Mapping):
        raise ValueError("override headers must be an object of header names to values")
    if apply is not None and not isinstance(apply, bool):
        raise ValueError(f"override apply must be true or false, got {apply!r}")
    extra = dict(headers or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise ValueError("override headers must map text to text")
    if method == WS_METHOD and (status is not None or content_type is not None or extra):
        raise ValueError("a WebSocket answer is a text frame: no status, content_type, headers")
    return Override(
        body=body,
        status=status if status is not None or body is None else 200,
        content_type=content_type if content_type is not None else JSON_CONTENT_TYPE,
        headers=extra,
        apply=bool(parsed) or bool(apply),
        mutations=parsed,
    )


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
    override: Override | None = None  # set exactly when kind is OVERRIDE

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
    errors: list[str] = field(default_factory=list)  # overrides that could not be applied
    _slots: list[_Slot] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self,
        kind: str | FaultKind,
        *,
        method: str = "POST",
        path: str = "/sapi/v1/asset/transfer",
        times: int | None = 1,
        hang: float | Decimal = DEFAULT_HANG_SECONDS,
        status: int | None = None,
        code: int = -1000,
        msg: str = "",
        symbol: str | None = None,
        price: Decimal | str | int | None = None,
        body: str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        apply: bool | None = None,
        mutations: Sequence[Mapping[str, Any] | Mutation] = (),
    ) -> Fault:
        """Queue a fault for the next `times` matching requests (None: every one until cleared).
        `method`/`path` may be "*" to match anything. `status` defaults to 400 for "error";
        `body`, `content_type`, `headers`, `apply` and `mutations` belong to "override"."""
        fault_kind = FaultKind(kind)
        if fault_kind == FaultKind.MOVE_PRICE_BEFORE and (symbol is None or price is None):
            raise ValueError("move_price_before needs symbol= and price=")
        if times is not None and (isinstance(times, bool) or times < 1):
            raise ValueError(f"times must be at least 1 (or None for always), got {times}")
        override = None
        if fault_kind == FaultKind.OVERRIDE:
            override = _override(
                method=method.upper(),
                body=body,
                status=status,
                content_type=content_type,
                headers=headers,
                apply=apply,
                mutations=mutations,
            )
        else:
            override_only = {
                "body": body,
                "content_type": content_type,
                "headers": headers,
                "apply": apply,
                "mutations": mutations or None,
            }
            given = [name for name, value in override_only.items() if value is not None]
            if given:
                raise ValueError(f"{given} are for kind override, not {fault_kind.value}")
        fault = Fault(
            kind=fault_kind,
            method=method.upper(),
            path=path,
            hang=float(hang),  # a delay, not money
            status=400 if override is not None or status is None else status,
            code=code,
            msg=msg,
            symbol=symbol,
            price=Decimal(str(price)) if price is not None else None,
            override=override,
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

    def record_error(self, message: str) -> None:
        """Note an override that could not be applied, for `report()`."""
        with self._lock:
            self.errors.append(message)

    def pending(self) -> list[tuple[Fault, int | None]]:
        with self._lock:
            return [(slot.fault, slot.remaining) for slot in self._slots]

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()

    def reset(self) -> None:
        """Clear queued faults, counters, override errors, latency and clock offset."""
        with self._lock:
            self._slots.clear()
            self.fired.clear()
            self.errors.clear()
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
                "errors": list(self.errors),
                "latency": self.latency,
                "clock_offset_ms": self.clock_offset_ms,
            }
