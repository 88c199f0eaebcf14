"""Trajectory storage: the backend-neutral interface, the SQLite backend and its vector index."""
