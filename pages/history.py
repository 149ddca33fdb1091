"""Recent generations (a first page; the full Create, Compare and Gallery pages come next)."""

import streamlit as st

from studio import services as svc

services = st.session_state.services

st.title("Recent generations")
rows = svc.history(services, limit=50)
if not rows:
    st.info("No generations yet. Try `studio generate \"a prompt\" --wait` in a terminal.")
else:
    st.dataframe(
        [{"created": g.created_at[:19].replace("T", " "), "status": g.status, "prompt": g.prompt,
          "resolution": g.resolution, "aspect ratio": g.aspect_ratio, "duration": g.duration,
          "size": f"{g.width}x{g.height}" if g.width else "", "error": g.error or ""} for g in rows],
        hide_index=True, width="stretch")
