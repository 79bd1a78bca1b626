"""How results reach a person: tables, JSON shapes and one-line summaries (`output`),
and the parsing of command-line values (`usage`). Shared by the CLI and `bot run`."""
