"""Small Streamlit helpers shared by the entry scripts and pages; the only studio module that
imports streamlit. `load_settings` is the one reader of `st.secrets`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from .settings import Settings

# secrets.toml keys accepted at the top level, besides Settings' own field names.
SECRET_ALIASES = {"MOSAIC_API_KEY": "api_key", "MOSAIC_BASE_URL": "base_url"}


def load_settings() -> Settings:
    "Settings from the environment, overridden by `.streamlit/secrets.toml` when it exists."
    overrides: dict[str, Any] = {}
    try:
        secrets = dict(st.secrets)
    except Exception:  # no secrets.toml anywhere raises StreamlitSecretNotFoundError (not a KeyError)
        secrets = {}
    for key, value in secrets.items():
        name = SECRET_ALIASES.get(key, key)
        if name in Settings.model_fields:
            overrides[name] = value
    return Settings(**overrides)
