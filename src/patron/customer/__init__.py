"""Customers, their profiles per source, identifiers, channels and field values."""
