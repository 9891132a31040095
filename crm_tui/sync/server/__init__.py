"""The sync server: a FastAPI app (`app.py`) over a store interface (`store.py`) with
an embedded SQLite implementation (`sqlite_store.py`)."""
