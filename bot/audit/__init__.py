"""Audit use cases over the ledger: show one transfer, summarize, export, compare with a venue's
own history, and the HTML report. Each reads the ledger opened read-only, and streams."""
