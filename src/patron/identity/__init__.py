"""Identity: identifier types, normalization rules and merges."""
