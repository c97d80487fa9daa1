"""The HTTP layer: the ``/graphql`` endpoint, authentication, limits, metrics, and the dashboard.

Nothing below this layer imports it. The dashboard's files (``static/``:
index.html, app.js, app.css; no build step) are served at ``/`` and ``/static/``.
"""
