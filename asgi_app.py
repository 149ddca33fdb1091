"""ASGI entry: the Streamlit UI plus the studio's routes, with the job worker started at boot.

Run with `streamlit run asgi_app.py` (or `studio serve`, or `uvicorn asgi_app:app`).
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from studio import settings as studio_settings
from studio.ui import warm_up
from studio.web import app_parts

# The page files live in pages/ (the layout the product asks for) and are routed by st.navigation.
# Until the entry script has run once, Streamlit 1.67 treats a pages/ folder as the old automatic
# multipage app and runs a deep link such as /compare?grid=... without the entry script, so the
# first visit after a restart would fail. This class flag is what st.navigation itself sets.
PagesManager.uses_pages_directory = False

warm_up()  # Streamlit's one-time costs, paid at boot rather than by the first visitor
# A setting that cannot be used leaves the pages alone, and they say which (not a traceback).
app = st.App("streamlit_app.py", **app_parts(studio_settings.load))
