"""Alerts: conditions that fire once and resolve once (`conditions`), the apprise channels
(`channels`), the state machine with its rate limit, kept in the ledger (`alerter`), and the
daily report (`report`)."""
