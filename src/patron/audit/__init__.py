"""The change log (what changed on a customer) and the audit log (who did what)."""
