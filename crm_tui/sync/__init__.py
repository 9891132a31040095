"""Sync: the hybrid logical clock, the wire protocol, the pure merge rules, the HTTP
client and the server (FastAPI over a store interface)."""
