"""The ASGI entry point uvicorn loads (`housing_serving.main:app`): the app, and the one setting
of the serving process itself."""

import sys

from housing_serving.app import create_app

# How long a thread holding the GIL keeps it when another asks. The event loop asks for it after
# every socket call; with large requests scoring in worker threads, Python's default (5 ms) made
# each of the loop's steps wait that long, and a health probe waited hundreds of ms.
SWITCH_INTERVAL_S = 0.0005
sys.setswitchinterval(SWITCH_INTERVAL_S)

app = create_app()
