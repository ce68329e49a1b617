"""Orgs (tenants), their settings, org units, field definitions and status labels."""
