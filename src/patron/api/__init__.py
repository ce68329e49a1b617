"""The HTTP adapter: app factory, error mapping, shared dependencies."""
