"""Sync: hybrid logical clock, wire protocol, field-level merge, client and server."""
