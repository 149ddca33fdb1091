"""Which runs belong to which job (issue 7 §1): a run is adopted only with proof that it is the
job's own, an agent whose POST has an unknown outcome is kept from other jobs until the outcome is
known, a late run nobody needs is cancelled and recorded, and agents whose create or update answer
was lost do not pile up on the account.

The simulator produces both orders of a lost answer: "slow" creates the run and answers late,
"late" holds the request and creates the run only after the client has given up.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from support import settings_for

from studio import services as svc
from studio.models import Generation, VideoGenerationParams
from studio.simulator import Faults

pytestmark = pytest.mark.usefixtures("clean_sim")

CLIENT_TIMEOUT_S = 1.0  # the studio gives up on an answer after this long ...
LATE_S = 6.0  # ... and the simulator creates the run this long after the POST arrived
WAIT_S = 60.0


def params(**kw) -> VideoGenerationParams:
    return VideoGenerationParams(prompt=kw.pop("prompt", "A paper boat on a rainy street"), **kw)


def sim_runs(sim) -> dict[str, tuple[str, str]]:
    "Every run the simulator holds: run id -> (agent id, status)."
    with sim.lock:
        return {r.id: (r.agent_id, r.status) for r in sim.runs.values()}


def wait_for(pred, timeout: float = WAIT_S, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def untracked_billing(sim, services, before: set[str]) -> list[str]:
    "Runs this studio started that no job follows, no stray record accounts for, and still billing."
    tracked = {g.run_id for g in services.store.page(limit=1000) if g.run_id}
    strays = {s["run_id"] for s in services.store.stray_runs()}
    agents = set(services.store.agent_ids())
    return [
        run_id
        for run_id, (agent_id, status) in sim_runs(sim).items()
        if run_id not in before
        and agent_id in agents
        and run_id not in tracked
        and (run_id not in strays or status not in ("cancelled", "failed", "completed"))
    ]


def test_a_late_run_is_never_adopted_by_another_job_nor_left_billing(sim, tmp_path):
    """The issue's reproduction, scaled down: A's POST answer comes after the studio gave up and the
    run is created later still; A goes on elsewhere. B's POST on the same pool then gets a 502.
    B must end with its own 720p 16:9 6 s video, and A's late run must be cancelled and recorded."""
    sim.set_faults(Faults(slow_seconds=LATE_S))
    services = svc.build_services(settings_for(sim, tmp_path / "d", timeout=CLIENT_TIMEOUT_S))
    before = set(sim_runs(sim))
    try:
        sim.script_fault("late", route="run")
        a = svc.generate(services, params(prompt="Take A", resolution="480p", aspect_ratio="1:1", duration="4"))[0]
        [took_a] = svc.wait_for(services, [a], timeout=WAIT_S)
        assert took_a.status == "done", took_a.error
        # The held POST has now created its run too (A's own run and the late one).
        wait_for(lambda: len(set(sim_runs(sim)) - before) >= 2, what="the late run")

        sim.script_fault("server_error", route="run")  # answered before it reached Mosaic
        b = svc.generate(services, params(prompt="Take B", resolution="720p", aspect_ratio="16:9", duration="6"))[0]
        [took_b] = svc.wait_for(services, [b], timeout=WAIT_S)
        assert took_b.status == "done", took_b.error
        assert took_b.duration_s is not None
        assert (took_b.width, took_b.height, round(took_b.duration_s)) == (1280, 720, 6), "B got A's run"
        assert took_b.run_id != took_a.run_id

        # A's late run: cancelled on Mosaic and recorded against A, nothing left billing untracked.
        strays = wait_for(services.store.stray_runs, what="a recorded stray run")
        [stray] = [s for s in strays if s["generation_id"] == a]
        assert stray["cancelled_at"] and stray["reason"]
        assert sim_runs(sim)[stray["run_id"]][1] == "cancelled"
        wait_for(lambda: not untracked_billing(sim, services, before), timeout=10, what="no untracked run")
    finally:
        services.close()
