"""The dashboard served at ``/``: static files (index.html, app.js, app.css), no build step."""
