"""Commands for customers, visits, complaints and orders (being written)."""
