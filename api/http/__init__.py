"""HTTP plumbing every web entry point shares: request ids, limits, DB errors."""
