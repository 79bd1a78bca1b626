"""Which address a private key signs for: Hyperliquid lets only the wallet's own key sign a
`usdClassTransfer` (an API "agent" wallet signs orders for it, never transfers), so the bot
compares the key's address with the configured wallet address before it plans a transfer."""

from __future__ import annotations

import coincurve
from ccxt.base.exchange import Exchange


def address_of(private_key: str) -> str | None:
    """The lower-case Ethereum address (0x + 40 hex) of a secp256k1 private key given as hex
    (with or without 0x): the last 20 bytes of the keccak of its public key. None when the
    text is not a private key at all."""
    digits = private_key.strip().removeprefix("0x")
    try:
        key = coincurve.PrivateKey(bytes.fromhex(digits))
    except ValueError:
        return None
    public = key.public_key.format(compressed=False)[1:]
    return "0x" + Exchange.hash(public, "keccak", "hex")[-40:]


def same_address(a: str, b: str) -> bool:
    """Addresses compare without their case (EIP-55 capitals are a checksum, not a part)."""
    return a.strip().lower() == b.strip().lower()
