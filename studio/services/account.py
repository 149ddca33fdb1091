"""Account and status: which API is in use, whether the key works, the credit balance."""

from __future__ import annotations

import logging
import time
from typing import Any

from ..errors import ApiError
from ..mosaic import MosaicClient
from .app import Services

log = logging.getLogger(__name__)

STATUS_TIMEOUT_S = 5.0  # the Status page's key check: one quick try
STATUS_CACHE_S = 15.0


def api_status(services: Services, *, refresh: bool = False) -> dict[str, Any]:
    """Which API is in use, whether the key works (/whoami), and the credit balance when given.

    One quick try (short timeout, no retries), remembered for STATUS_CACHE_S so a page that
    reruns often, or a Mosaic that is down, never keeps the page waiting.
    """
    cached = services._status
    if cached and not refresh and time.monotonic() - cached[0] < STATUS_CACHE_S:
        return cached[1]
    out = _check_api(services)
    services._status = (time.monotonic(), out)
    return out


def _check_api(services: Services) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mode": services.mode,
        "label": services.mode_label,
        "key_ok": None,
        "organization": None,
        "credits": None,
        "error": None,
    }
    probe = MosaicClient.from_settings(
        services.settings, base_url=services.client.base_url, timeout=STATUS_TIMEOUT_S, max_retries=0
    )
    try:
        return _fill_status(probe, out)
    finally:
        probe.close()


def _fill_status(probe: MosaicClient, out: dict[str, Any]) -> dict[str, Any]:
    try:
        who = probe.whoami()
        out["key_ok"] = True
        out["organization"] = who.organization_name or who.organization_id
    except ApiError as err:
        out["key_ok"] = False
        out["error"] = str(err)
        return out
    try:
        out["credits"] = probe.credits().current_balance
    except ApiError as err:  # credits are optional information
        log.info("credits unavailable: %s", err)
    return out
