"""All exchange I/O: building ccxt clients, reading state, transferring, classifying errors."""
