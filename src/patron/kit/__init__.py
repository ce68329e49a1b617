"""Shared machinery: database access, errors, pagination."""
