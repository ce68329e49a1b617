"""Loyalty cards: card series, cards and their status labels."""
