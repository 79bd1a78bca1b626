"""All exchange I/O: building ccxt clients, reading state, transferring, classifying errors.

Each package here is one venue (`binance/`, `coinw/`...): everything that is that venue's, its
`Venue` class declaring the exchange ids it serves and its traits, found by `registry`. The
modules beside them are generic and ask a venue's traits, never a table keyed by exchange id.
"""
