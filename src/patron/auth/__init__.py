"""Users, API keys, roles and credential checks."""
