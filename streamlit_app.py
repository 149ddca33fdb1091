"""Streamlit entry script: builds the studio once per process, shows the API mode, routes pages."""

import streamlit as st

from studio import services as svc
from studio.ui import load_settings

st.set_page_config(page_title="Mosaic Prompt Studio", page_icon="🎬", layout="wide")

if "services" not in st.session_state:
    st.session_state.services = svc.shared_services(load_settings)
services: svc.Services = st.session_state.services

with st.sidebar:
    if services.mode == "simulator":
        st.warning(f"**Simulator mode** — {services.mode_label}. Set MOSAIC_API_KEY to use Mosaic.")
    else:
        st.success(f"**Mosaic** — {services.mode_label}")

page = st.navigation([st.Page("pages/history.py", title="History", default=True)])
page.run()
