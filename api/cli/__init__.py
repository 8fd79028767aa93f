"""The ``provision`` command line, one module per command group."""
