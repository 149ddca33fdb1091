"""Streamlit entry script: builds the studio once per process, shows the API mode, routes pages."""

import streamlit as st

from studio import services as svc
from studio import ui
from studio.settings import load

st.set_page_config(page_title="Mosaic Prompt Studio", page_icon="🎬", layout="wide")

if "services" not in st.session_state:
    st.session_state.services = svc.shared_services(load)
studio: svc.Services = st.session_state.services

page = st.navigation(
    [
        st.Page("pages/create.py", title="Create", icon="✏️", default=True),
        st.Page("pages/compare.py", title="Compare", icon="🔀"),
        st.Page("pages/gallery.py", title="Gallery", icon="🖼️"),
        st.Page("pages/status.py", title="Status", icon="📡"),
    ]
)
with st.sidebar:
    ui.mode_banner(studio)
    active = len(svc.queue(studio))
    if active:
        st.caption(f"{active} generation{'s' if active != 1 else ''} in progress — see Status")
page.run()
