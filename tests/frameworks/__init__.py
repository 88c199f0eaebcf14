"""Real agent frameworks, offline: make frameworks (.venv-frameworks)."""
