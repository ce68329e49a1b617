"""Loyalty balances and tiers of customers."""
