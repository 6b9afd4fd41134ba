"""The queue core: requests become durable jobs, workers run them, the ledger keeps the books."""
