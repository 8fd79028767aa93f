"""License signing: the LicenseSigner adapter, its key and the envelope."""
