"""Fault injection: the `Faults` knobs, scripted one-off faults, and the dice that pick them.

Transport faults (rate_limit, server_error, slow, late, drop, unauthorized, forbidden) hit
requests: "slow" does the work and then answers late, "late" holds the request and only then does
the work (a run created after the client gave up), unauthorized / forbidden answer 401 / 403.
Outcome faults (run_fail, run_partial, needs_credits, no_outputs, wrong_size, run_hang) decide how
a new run ends; download faults (short_body, truncated_video, trickle, redirect_foreign) spoil a
render's download and are scripted only; `listing_without_outputs` strips outputs from run
listings. Random choices come from `random.Random(seed)`, so a seed replays exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from .server import Simulator

DEFAULT_SLOW_SECONDS = 35.0  # past the studio's default 30 s client timeout
DEFAULT_RETRY_AFTER_S = 1.0
SERVER_ERROR_STATUSES = (500, 502, 503)
DEFAULT_TRICKLE_BYTES_PER_S = 100.0  # the trickle that once "downloaded" forever
TRUNCATE_SHARE = 0.4  # short_body and truncated_video send this share of the file

# Route names, as used by Faults.routes, script_fault() and the request counts of /_sim/stats.
API_ROUTES = (
    "whoami",
    "agent_create",
    "agents",
    "agent_get",
    "agent_update",
    "agent_delete",
    "run",
    "agent_runs",
    "runs",
    "run_get",
    "run_nodes",
    "run_progress",
    "run_cancel",
    "run_resume",
    "upload_url",
    "upload_finalize",
    "credits",
    "agent_node",
)
STORAGE_ROUTES = ("storage_upload", "storage_download")
# unauthorized / forbidden: a 401 / 403 as if the key were revoked (or lost a scope) on those routes.
TRANSPORT_FAULTS = ("rate_limit", "server_error", "slow", "drop", "late", "unauthorized", "forbidden")
# no_outputs: the run says completed but lists no output; wrong_size: the take is rendered at
# another frame size than asked (someone else's video); run_hang: the run never ends (until cancelled).
OUTCOME_FAULTS = ("run_fail", "run_partial", "needs_credits", "no_outputs", "wrong_size", "run_hang")
# On storage_download only. short_body: Content-Length of the whole file, then part of it and the
# line is cut; truncated_video: an honest, complete answer holding the first part of the MP4 (its
# header whole, most frames missing); trickle: the file at trickle_bytes_per_s; redirect_foreign:
# a 302 to the same file on another host name.
DOWNLOAD_FAULTS = ("short_body", "truncated_video", "trickle", "redirect_foreign")
FAULT_KINDS = TRANSPORT_FAULTS + OUTCOME_FAULTS + DOWNLOAD_FAULTS
# The route a scripted fault applies to when the script names none.
DEFAULT_FAULT_ROUTE = dict.fromkeys(DOWNLOAD_FAULTS, "storage_download")


class Faults(BaseModel):
    """Fault injection, all off by default. Rates are probabilities per request (0..1).

    Transport faults hit the API routes named in `routes` (None = every API route) and the storage
    routes only when `include_storage`. Invalid values raise ValueError (pydantic's ValidationError).
    """

    model_config = ConfigDict(extra="forbid")

    rate_limit: float = Field(0.0, ge=0, le=1, description="Probability per request of a 429 with Retry-After.")
    retry_after_s: float = Field(DEFAULT_RETRY_AFTER_S, ge=0, description="Seconds in Retry-After of injected 429s.")
    server_error: float = Field(0.0, ge=0, le=1, description="Probability per request of a 500/502/503.")
    slow: float = Field(0.0, ge=0, le=1, description="Probability per request of an answer delayed by slow_seconds.")
    slow_seconds: float = Field(DEFAULT_SLOW_SECONDS, ge=0, description="Delay of slow and late answers, in seconds.")
    late: float = Field(
        0.0, ge=0, le=1, description="Probability per request of holding it slow_seconds before doing the work."
    )
    drop: float = Field(0.0, ge=0, le=1, description="Probability per request of processing it, then cutting the line.")
    unauthorized: float = Field(0.0, ge=0, le=1, description="Probability per request of a 401 (key revoked).")
    forbidden: float = Field(0.0, ge=0, le=1, description="Probability per request of a 403 (scope missing).")
    run_fail: float = Field(0.0, ge=0, le=1, description="Probability per run of ending failed.")
    run_partial: float = Field(0.0, ge=0, le=1, description="Probability per run of ending partial_complete.")
    needs_credits: bool = Field(False, description="Every run ends failed with needs_credits.")
    trickle_bytes_per_s: float = Field(
        DEFAULT_TRICKLE_BYTES_PER_S, gt=0, description="Speed of the scripted trickle download fault, bytes/s."
    )
    run_hang: float = Field(0.0, ge=0, le=1, description="Probability per run of never ending (until cancelled).")
    listing_without_outputs: bool = Field(
        False, description="Run listings answer outputs: [] (clients must fall back to one GET per run)."
    )
    legacy_api: bool = Field(
        False, description="GET /agent_nodes/{id} answers 404, as an API from before that call does."
    )
    routes: frozenset[str] | None = Field(
        None, description="Route names the request faults apply to (comma list); unset = every API route."
    )
    include_storage: bool = Field(False, description="Also inject request faults on storage uploads/downloads.")
    seed: int = Field(0, description="Seed of the fault dice.")

    @field_validator(
        *("rate_limit", "server_error", "slow", "late", "drop", "unauthorized", "forbidden"),
        *("run_fail", "run_partial", "run_hang", "seed"),
        mode="before",
    )
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        # True would pass as 1.0; a flag where a number belongs is a mistake worth a 400.
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        return value

    @field_validator("routes", mode="before")
    @classmethod
    def _route_names(cls, value: Any) -> Any:
        if value is None:
            return None
        names = value.split(",") if isinstance(value, str) else list(value)
        routes = frozenset(str(n).strip() for n in names if str(n).strip())
        known = API_ROUTES + STORAGE_ROUTES
        unknown = sorted(routes - set(known))
        if unknown:
            raise ValueError(f"unknown route names {', '.join(unknown)}; known: {', '.join(known)}")
        return routes

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        "Faults from JSON (unknown keys raise ValueError), merged over `base`."
        return cls.model_validate({**(base.to_dict() if base else {}), **data})

    def to_dict(self) -> dict[str, Any]:
        "JSON-ready settings."
        data = self.model_dump()
        data["routes"] = sorted(self.routes) if self.routes is not None else None
        return data


@dataclass
class Scripted:
    "A fault queued for the next `count` requests to `route` (None = any API route)."

    kind: str
    route: str | None
    count: int


def take_scripted(sim: Simulator, route: str, kinds: tuple[str, ...], *, any_route: bool = True) -> str | None:
    "Use up one scripted fault of `kinds` for `route`, if any is queued (lock held)."
    for item in sim.scripted:
        if item.kind in kinds and (item.route == route or (item.route is None and any_route)):
            item.count -= 1
            if item.count <= 0:
                sim.scripted.remove(item)
            return item.kind
    return None


def pick_transport_fault(sim: Simulator, route: str, kind: str) -> str | None:
    "The transport fault this request gets, scripted first, then by the dice; or None."
    faults = sim.config.faults
    if kind == "sim":
        return None
    with sim.lock:
        # A script naming a storage route applies to it; route None means any API route.
        chosen = take_scripted(sim, route, TRANSPORT_FAULTS, any_route=kind == "api")
        rolls = kind == "api" or faults.include_storage
        if chosen is None and rolls and (faults.routes is None or route in faults.routes):
            for name in TRANSPORT_FAULTS:
                rate = getattr(faults, name)
                if rate > 0 and sim.rng.random() < rate:
                    chosen = name
                    break
        if chosen:
            sim.faults_injected[chosen] += 1
        return chosen


def pick_outcome(sim: Simulator, route: str) -> str:
    "How a new run ends: ok, or an outcome fault (lock held)."
    faults = sim.config.faults
    chosen = take_scripted(sim, route, OUTCOME_FAULTS)
    if chosen is None:
        if faults.needs_credits:
            chosen = "needs_credits"
        elif faults.run_fail > 0 and sim.rng.random() < faults.run_fail:
            chosen = "run_fail"
        elif faults.run_partial > 0 and sim.rng.random() < faults.run_partial:
            chosen = "run_partial"
        elif faults.run_hang > 0 and sim.rng.random() < faults.run_hang:
            chosen = "run_hang"
    if chosen:
        sim.faults_injected[chosen] += 1
    return chosen or "ok"


def pick_download_fault(sim: Simulator) -> str | None:
    "The scripted download fault this storage download gets, or None."
    with sim.lock:
        chosen = take_scripted(sim, "storage_download", DOWNLOAD_FAULTS)
        if chosen:
            sim.faults_injected[chosen] += 1
        return chosen
