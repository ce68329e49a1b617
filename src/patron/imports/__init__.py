"""The bulk import engine: read -> map -> validate -> resolve -> preview -> commit -> report."""
