"""Lifecycle events of customers in other systems (e.g. WeChat follow / register)."""
