"""The ledger: tables, the `Ledger` facade over one module per concern, the journal's hash chain
and its one hook, the read queries. Chain verification is the audit's (`bot.audit.chain`)."""

from bot.ledger.store import Ledger, TransferRecord

__all__ = ["Ledger", "TransferRecord"]
