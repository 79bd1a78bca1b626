"""Funding payments: the settled-rate history the policy's streak reads, and the
payments collected into the ledger."""
