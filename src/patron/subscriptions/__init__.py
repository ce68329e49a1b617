"""Channel subscriptions (opt-in / opt-out) and the consent ledger."""
