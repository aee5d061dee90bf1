"""The HTTP API of heatreuse (``/api/v1``): FastAPI app factory, auth, routes.

The top layer beside :mod:`heatreuse.cli`: it may import services and everything
below; nothing below imports it. Errors become HTTP codes here only
(:mod:`heatreuse.api.errors`). Build the app with :func:`heatreuse.api.app.create_app`.
"""
