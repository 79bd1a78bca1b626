"""The ledger: SQLAlchemy tables, the write side (store), the audit queries and the hash chain."""

from bot.ledger.store import Ledger, TransferRecord

__all__ = ["Ledger", "TransferRecord"]
