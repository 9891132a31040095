"""Seeding, the demo and the change log (being written)."""
