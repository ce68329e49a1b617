"""The legacy form-post batch API (``POST /api/batch``), an adapter over the import pipeline."""
