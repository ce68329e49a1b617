"""The ``patron`` command line: a thin layer over the services, one module per command group."""
