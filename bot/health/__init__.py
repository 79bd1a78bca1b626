"""Is the bot fit to run and running well: `bot status` from the ledger and lock files,
and the checks made before anything runs (`preflight`)."""
