"""The ledger worker entry point: the process, the claim loop, the handlers."""
