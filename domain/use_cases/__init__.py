"""Use cases: one module each, a command dataclass and a handler."""
