"""An independent Hyperliquid fake on loopback, written from Hyperliquid's API documentation
(hyperliquid.gitbook.io .../for-developers/api: info-endpoint, exchange-endpoint, nonces and
API wallets, signing) and ccxt's recorded requests, so the stock `ccxt.async_support.hyperliquid`
client can be driven over HTTP. The account and its arithmetic: `hyperliquid/account.py`.

Serves:

    POST /info      type meta | metaAndAssetCtxs | spotMeta | spotMetaAndAssetCtxs |
                    clearinghouseState | spotClearinghouseState | userNonFundingLedgerUpdates |
                    userFunding | userAbstraction | exchangeStatus   (a `user` is the one wallet)
    POST /exchange  action usdClassTransfer, signed by the wallet (EIP-712, user-signed)

`/exchange` checks what it can independently: the action's `nonce` equals the request's, the
chain is Mainnet with a hex `signatureChainId`, the amount is a positive decimal of at most 6
places (the perp wallet's USDC), the EIP-712 signature recovers (coincurve) to the wallet's
address (an API agent wallet, or any other key, is refused: "User or API Wallet <addr> does not
exist.", the text Hyperliquid answers for a signer it does not know), and the nonce follows
"Nonces and API wallets": within (T - 2 days, T + 1 day) of the server's time, larger than the
smallest of the signer's 100 highest, never used before. The refusal texts for nonces and for an
insufficient balance are not quoted in the pages read; the fake's own wording is in `NONCE_*`
and `INSUFFICIENT`. Every action that arrives, applied or not, is kept in `fake.actions`.

Faults (tests/fakes/faults.py kinds) are keyed by ("POST", "/exchange") or ("POST",
"/info/<type>"): 5xx before or after apply, a hang after apply, 429, a RAW body (garbage), and
`REFUSED` (Hyperliquid's `{"status": "err", "response": <text>}`, nothing applied).
`fake.page_size` is the most entries one ledger-updates answer holds (Hyperliquid: 500; a test
sets it small to make the bot page by `startTime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import coincurve
from aiohttp import web
from ccxt.base.exchange import Exchange

from tests.fakes.faults import RATE_LIMITED, RAW, Fault, Faults
from tests.fakes.hyperliquid.account import DAY_MS, NONCE_SET, TOKENS, USD, Account, text
from tests.fakes.loopback import LoopbackFake

#: the test wallet's key, and an API agent wallet's (approved for the wallet, never its owner)
PRIVATE_KEY = "0x" + "11" * 32
AGENT_KEY = "0x" + "22" * 32
REFUSED = "refused"
INSUFFICIENT = "Insufficient balance for usd class transfer"
NONCE_DUPLICATE = "Invalid nonce: duplicate nonce {nonce}"
NONCE_TOO_LOW = "Invalid nonce: nonce {nonce} is lower than the signer's 100 highest"
NONCE_WINDOW = "Invalid nonce: nonce {nonce} is outside (T - 2 days, T + 1 day)"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
USD_CLASS_TRANSFER_TYPES = {
    "HyperliquidTransaction:UsdClassTransfer": [
        {"name": "hyperliquidChain", "type": "string"},
        {"name": "amount", "type": "string"},
        {"name": "toPerp", "type": "bool"},
        {"name": "nonce", "type": "uint64"},
    ]
}


def address_of(private_key: str) -> str:
    """The Ethereum address of a secp256k1 private key (keccak of the public key's last 20
    bytes), lower-case hex."""
    public = coincurve.PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
    raw = public.public_key.format(compressed=False)[1:]
    return "0x" + Exchange.hash(raw, "keccak", "hex")[-40:]


WALLET = address_of(PRIVATE_KEY)
AGENT = address_of(AGENT_KEY)


def recover_signer(action: dict[str, Any], signature: dict[str, Any]) -> str:
    """The address that signed a user-signed action (EIP-712, domain
    HyperliquidSignTransaction on the action's `signatureChainId`)."""
    domain = {
        "chainId": int(str(action["signatureChainId"]), 16),
        "name": "HyperliquidSignTransaction",
        "verifyingContract": ZERO_ADDRESS,
        "version": "1",
    }
    message = {k: action[k] for k in ("hyperliquidChain", "amount", "toPerp", "nonce")}
    encoded = Exchange.eth_encode_structured_data(domain, USD_CLASS_TRANSFER_TYPES, message)
    digest = bytes.fromhex(Exchange.hash(encoded, "keccak", "hex"))
    r = int(str(signature["r"]), 16).to_bytes(32, "big")
    s = int(str(signature["s"]), 16).to_bytes(32, "big")
    v = int(signature["v"]) - 27
    public = coincurve.PublicKey.from_signature_and_message(r + s + bytes([v]), digest, hasher=None)
    raw = public.format(compressed=False)[1:]
    return "0x" + Exchange.hash(raw, "keccak", "hex")[-40:]


class Refusal(Exception):
    """An `/exchange` error answer: `{"status": "err", "response": text}` (HTTP 200)."""


class HyperliquidFake(LoopbackFake):
    """`async with HyperliquidFake() as fake:` serves on `fake.base_url` until the block ends."""

    def __init__(
        self, account: Account | None = None, *, wallet: str = WALLET, clock_offset_ms: int = 0
    ) -> None:
        super().__init__(clock_offset_ms=clock_offset_ms)
        self.account = account or Account()
        self.wallet = wallet.lower()
        self.agents = {AGENT}  # approved API wallets: they may sign L1 actions, never transfers
        self.faults = Faults()
        self.page_size = 500
        #: run on the account when a REFUSED fault answers (what moved the money meanwhile)
        self.on_refusal: Callable[[Account], None] | None = None
        self.actions: list[dict[str, Any]] = []  # every /exchange action that arrived
        self.exchange_bodies: list[dict[str, Any]] = []  # ... and its whole signed request
        self.info_requests: list[dict[str, Any]] = []

    def client_urls(self) -> dict[str, Any]:
        """ccxt's `urls['api']` for the hyperliquid class, pointed here."""
        return {"public": self.base_url, "private": self.base_url}

    # dispatch -------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        if (method, path) not in (("POST", "/info"), ("POST", "/exchange")):
            self.unserved.append((method, path))
            return web.Response(status=404, text="Not Found")
        try:
            body = json.loads(await request.text(), parse_float=Decimal)
        except ValueError:
            return web.Response(status=422, text="Failed to deserialize the JSON body")
        if not isinstance(body, dict):
            return web.Response(status=422, text="Failed to deserialize the JSON body")
        key = path if path == "/exchange" else f"/info/{body.get('type')}"
        self.calls[(method, key)] += 1
        if path == "/exchange":  # kept whether it is applied, refused or faulted
            self.exchange_bodies.append(body)
            if isinstance(body.get("action"), dict):
                self.actions.append(body["action"])
        fault = self.faults.take(method, key)
        if fault is not None and not fault.applies:
            return await self._fault(fault)
        if path == "/info":
            self.info_requests.append(body)
            status, answer = self._info(body)
        else:
            status, answer = self._exchange(body)
        if fault is not None:
            return await self._fault(fault)
        return web.Response(status=status, text=json.dumps(answer), content_type="application/json")

    async def _fault(self, fault: Fault) -> web.StreamResponse:
        if fault.holds:
            assert self._stopping is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.hold)
            return web.Response(status=504, text="Gateway Timeout")
        if fault.kind == RATE_LIMITED:
            return web.Response(status=429, text="null", content_type="application/json")
        if fault.kind == REFUSED:
            if self.on_refusal is not None:
                with self.account.lock:
                    self.on_refusal(self.account)
            refusal = {"status": "err", "response": fault.body}
            return web.Response(text=json.dumps(refusal), content_type="application/json")
        content_type = "application/json" if fault.kind == RAW else "text/plain"
        return web.Response(status=fault.status, text=fault.body, content_type=content_type)

    def refuse(self, text_: str, *, times: int = 1) -> Fault:
        """Answer the next `times` transfers with Hyperliquid's error envelope, nothing applied
        (e.g. `INSUFFICIENT` where the balance moved between the bot's read and its send)."""
        return self.faults.keep(Fault("POST", "/exchange", REFUSED, times, 200, text_))

    # /info ----------------------------------------------------------------------------------

    def _info(self, body: dict[str, Any]) -> tuple[int, Any]:
        kind = body.get("type")
        account, now = self.account, self.now()
        user = body.get("user")
        with account.lock:
            if kind in ("meta", "metaAndAssetCtxs"):
                meta = {"universe": [self._perp_meta(p) for p in account.perps.values()]}
                if kind == "meta":
                    return 200, meta
                return 200, [meta, [self._perp_ctx(p) for p in account.perps.values()]]
            if kind in ("spotMeta", "spotMetaAndAssetCtxs"):
                meta = self._spot_meta()
                if kind == "spotMeta":
                    return 200, meta
                return 200, [meta, self._spot_ctxs()]
            if kind == "exchangeStatus":
                return 200, {"specialStatuses": None, "time": str(now)}
            if not isinstance(user, str) or not user.startswith("0x") or len(user) != 42:
                return 422, "Failed to deserialize the JSON body into the target type"
            mine = user.lower() == self.wallet
            if kind == "clearinghouseState":
                return 200, account.clearinghouse_state(now) if mine else _empty_perp(now)
            if kind == "spotClearinghouseState":
                return 200, account.spot_clearinghouse_state() if mine else {"balances": []}
            if kind == "userAbstraction":
                return 200, account.abstraction if mine else "default"
            if kind == "userNonFundingLedgerUpdates":
                return self._ledger_updates(body, mine)
            if kind == "userFunding":
                return self._user_funding(body, mine)
        self.unserved.append(("POST", f"/info/{kind}"))
        return 422, "Failed to deserialize the JSON body into the target type"

    def _ledger_updates(self, body: dict[str, Any], mine: bool) -> tuple[int, Any]:
        """Updates with startTime <= time <= endTime (endTime: now), oldest first, at most
        `page_size` of them ("use the last returned timestamp as the next startTime")."""
        start, end = body.get("startTime"), body.get("endTime")
        if not isinstance(start, int) or isinstance(start, bool):
            return 422, "Failed to deserialize the JSON body into the target type"
        end = end if isinstance(end, int) else self.now()
        if not mine:
            return 200, []
        rows = [u for u in self.account.ledger if start <= u.time <= end]
        rows.sort(key=lambda u: u.time)
        return 200, [
            {"time": u.time, "hash": u.hash, "delta": u.delta} for u in rows[: self.page_size]
        ]

    def _user_funding(self, body: dict[str, Any], mine: bool) -> tuple[int, Any]:
        """`userFunding`: the user's funding payments with startTime <= time <= endTime,
        oldest first, at most `page_size`; each entry's hash is zeros, as Hyperliquid sends."""
        start, end = body.get("startTime"), body.get("endTime")
        if not isinstance(start, int) or isinstance(start, bool):
            return 422, "Failed to deserialize the JSON body into the target type"
        end = end if isinstance(end, int) else self.now()
        if not mine:
            return 200, []
        rows = sorted(
            (f for f in self.account.funding if start <= f.time <= end), key=lambda f: f.time
        )
        return 200, [
            {
                "time": f.time,
                "hash": "0x" + "0" * 64,
                "delta": {
                    "type": "funding",
                    "coin": f.coin,
                    "usdc": text(f.usdc, Decimal("0.000001")),
                    "szi": str(f.szi),
                    "fundingRate": str(f.rate),
                    "nSamples": None,
                },
            }
            for f in rows[: self.page_size]
        ]

    def _perp_meta(self, p: Any) -> dict[str, Any]:
        return {"name": p.name, "szDecimals": p.sz_decimals, "maxLeverage": p.max_leverage}

    def _perp_ctx(self, p: Any) -> dict[str, Any]:
        mark = text(p.mark, Decimal("0.1"))
        return {
            "funding": text(p.funding, Decimal("1e-10")),
            "openInterest": "1000.0",
            "prevDayPx": mark,
            "dayNtlVlm": "1000000.0",
            "premium": "0.0",
            "oraclePx": mark,
            "markPx": mark,
            "midPx": mark,
            "impactPxs": [mark, mark],
        }

    def _spot_meta(self) -> dict[str, Any]:
        tokens = [
            {
                "name": name,
                "szDecimals": 2 if name == "USDC" else 4,
                "weiDecimals": 8,
                "index": index,
                "tokenId": "0x" + hashlib.md5(name.encode()).hexdigest(),
                "isCanonical": index == 0,
                "evmContract": None,
                "fullName": None if name == "USDC" else f"Unit {name[1:]}",
            }
            for index, name in enumerate(TOKENS)
        ]
        universe = [
            {"name": f"@{index}", "tokens": [index, 0], "index": index - 1, "isCanonical": False}
            for index in range(1, len(TOKENS))
        ]
        return {"tokens": tokens, "universe": universe}

    def _spot_ctxs(self) -> list[dict[str, Any]]:
        marks = {"UETH": self.account.perps["ETH"].mark, "UBTC": self.account.perps["BTC"].mark}
        return [
            {
                "coin": f"@{index}",
                "markPx": text(marks[TOKENS[index]], Decimal("0.1")),
                "midPx": text(marks[TOKENS[index]], Decimal("0.1")),
                "prevDayPx": text(marks[TOKENS[index]], Decimal("0.1")),
                "dayNtlVlm": "1000000.0",
                "circulatingSupply": "1000000.0",
            }
            for index in range(1, len(TOKENS))
        ]

    # /exchange ------------------------------------------------------------------------------

    def _exchange(self, body: dict[str, Any]) -> tuple[int, Any]:
        action = body.get("action")
        if not isinstance(action, dict):
            return 422, "Failed to deserialize the JSON body into the target type"
        try:
            if action.get("type") != "usdClassTransfer":
                raise Refusal(f"Unsupported action in the fake: {action.get('type')}")
            self._usd_class_transfer(action, body)
        except Refusal as refusal:
            return 200, {"status": "err", "response": str(refusal)}
        return 200, {"status": "ok", "response": {"type": "default"}}

    def _usd_class_transfer(self, action: dict[str, Any], body: dict[str, Any]) -> None:
        nonce = body.get("nonce")
        if not isinstance(nonce, int) or action.get("nonce") != nonce:
            raise Refusal("Invalid nonce: the action's nonce is not the request's")
        if action.get("hyperliquidChain") != "Mainnet":
            raise Refusal("Invalid hyperliquidChain")
        amount = _amount(action.get("amount"))
        to_perp = action.get("toPerp")
        if not isinstance(to_perp, bool):
            raise Refusal("Invalid toPerp")
        signature = body.get("signature")
        try:
            signer = recover_signer(action, signature if isinstance(signature, dict) else {})
        except (KeyError, ValueError, TypeError) as exc:
            raise Refusal(f"Invalid signature: {type(exc).__name__}") from None
        if signer != self.wallet:
            raise Refusal(f"User or API Wallet {signer} does not exist.")
        account, now = self.account, self.now()
        with account.lock:
            self._take_nonce(signer, nonce, now)
            available = account.spot_free("USDC") if to_perp else account.withdrawable()
            if amount > available:
                raise Refusal(INSUFFICIENT)
            tx_hash = "0x" + hashlib.sha256(f"{signer}:{nonce}".encode()).hexdigest()
            account.class_transfer(amount, to_perp, now, tx_hash)

    def _take_nonce(self, signer: str, nonce: int, now: int) -> None:
        """Hyperliquid's nonce rules: within (T - 2 days, T + 1 day), larger than the smallest
        of the signer's 100 highest once it holds 100, never used before."""
        if not now - 2 * DAY_MS < nonce < now + DAY_MS:
            raise Refusal(NONCE_WINDOW.format(nonce=nonce))
        held = self.account.nonces.setdefault(signer, [])
        if nonce in held:
            raise Refusal(NONCE_DUPLICATE.format(nonce=nonce))
        if len(held) >= NONCE_SET and nonce <= min(held):
            raise Refusal(NONCE_TOO_LOW.format(nonce=nonce))
        held.append(nonce)
        held.sort()
        del held[:-NONCE_SET]


def _amount(raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise Refusal("Invalid amount")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise Refusal("Invalid amount") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(USD):
        raise Refusal(f"Invalid amount {raw}: USDC moves in at most 6 decimals")
    return amount


def _empty_perp(now: int) -> dict[str, Any]:
    zero = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0"}
    summary = {**zero, "totalMarginUsed": "0.0"}
    return {
        "marginSummary": summary,
        "crossMarginSummary": dict(summary),
        "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": "0.0",
        "assetPositions": [],
        "time": now,
    }
