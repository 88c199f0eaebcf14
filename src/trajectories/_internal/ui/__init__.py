"""``trajectories ui``: a read-only web viewer over a store (Starlette, Jinja2, SVG drawn on the server)."""
