"""ASGI entry point: `uvicorn housing_serving.main:app` (settings from HOUSING_SERVING_*)."""

from housing_serving.app import create_app

app = create_app()
