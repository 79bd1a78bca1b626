"""What every layer leans on at run time: the event loop's helpers, log formats and
secret masking, the retry policy, stop requests, failpoints for crash tests, and the files
shipped inside the wheel. Imports nothing of the bot but its core vocabulary."""
