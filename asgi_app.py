"""ASGI entry: the Streamlit UI plus the studio's routes, with the job worker started at boot.

Run with `streamlit run asgi_app.py` (or `studio serve`, or `uvicorn asgi_app:app`).
"""

import streamlit as st

from studio.ui import load_settings
from studio.web import make_lifespan, make_routes

settings = load_settings()
app = st.App("streamlit_app.py", lifespan=make_lifespan(lambda: settings), routes=make_routes(settings))
