"""The margin guard: the check (`check`: a poll, then the cycle scoped to the hedges in
danger), the margin estimate at a streamed mark (`estimate`), and the stream watcher
(`watch`)."""
