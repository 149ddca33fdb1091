"""Streamlit entry script: builds the studio once per process, shows the API mode (in the sidebar,
and in one line above every page, for phones, where the sidebar is folded away), routes pages, and
watches this session's runs from the sidebar on every page."""

import streamlit as st

from studio import services as svc
from studio import ui
from studio.settings import load

st.set_page_config(page_title="Mosaic Prompt Studio", page_icon="🎬", layout="wide")
ui.login_screen()  # with login configured, nothing below until the person has logged in

if "services" not in st.session_state:
    st.session_state.services = ui.start_studio(load)  # a bad setting or database: a clear page
studio: svc.Services = st.session_state.services

page = st.navigation(
    [
        st.Page("pages/create.py", title="Create", icon="✏️", default=True),
        st.Page("pages/compare.py", title="Compare", icon="🔀"),
        st.Page("pages/gallery.py", title="Gallery", icon="🖼️"),
        st.Page("pages/collections.py", title="Collections", icon="📚"),
        st.Page("pages/review.py", title="Review", icon="⚖️"),
        st.Page("pages/decisions.py", title="Decisions", icon="📊"),
        st.Page("pages/status.py", title="Status", icon="📡"),
    ]
)
ui.mode_badge(studio)
with st.sidebar:
    ui.identity()
    ui.mode_banner(studio)
with ui.errors_shown():  # the boundary: a studio error a page did not handle is a message, not a traceback
    page.run()
with st.sidebar, ui.errors_shown():
    ui.watch()
    ui.queue_note(studio)
