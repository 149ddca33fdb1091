"""The fault campaign: a comparison grid run end to end while Mosaic misbehaves in every way issue 7
lists at once (5xx and dropped lines on every call, run requests answered too late or whose run is
created after the client gave up, lost agent creates, truncated and cut-off downloads, a trickle, a
redirect to another host, a run that completes with no video, a video of another size, a run that
never ends), then the
outcome checked against the simulator's own record of what it created and billed:

- no wrong or broken video saved: every "done" take is whole and is the take that was asked for;
- no untracked billed run: every run the simulator created is followed by exactly one job, or was
  recorded as a stray and cancelled; no job follows a run another job follows;
- every job ended, each within its deadlines, with a message when it failed.

The figures are written to test-artifacts/campaign-seed*.txt (the closing note of issue 7 quotes them).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support import settings_for

from studio import media
from studio import services as svc
from studio.models import FINAL_STATUSES, VideoGenerationParams, output_size
from studio.simulator import Faults, SimConfig, Simulator

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SEEDS = (4,)  # dice that leave a late duplicate to cancel; seeds 1 and 5 pass too (one keeps CI short)
STUDIO_TIMEOUT_S = 1.5
LATE_S = 5.0  # past the studio timeout and its first look: a late run turns up after the job moved on
# Calls that hit the dice: everything the runner sends to Mosaic.
FAULTED_ROUTES = [
    "agent_create",
    "agent_update",
    "agents",
    "agent_get",
    "run",
    "runs",
    "agent_runs",
    "run_get",
    "run_nodes",
    "agent_node",
    "run_cancel",
]
# One of each download and outcome misbehaviour, queued on top of the dice.
SCRIPTED = [
    ("truncated_video", "storage_download", 2),
    ("short_body", "storage_download", 2),
    ("trickle", "storage_download", 1),
    ("redirect_foreign", "storage_download", 1),
    ("no_outputs", "run", 1),
    ("wrong_size", "run", 1),
    ("run_hang", "run", 1),
]
RUN_DEADLINE_S = 20.0  # the hung run is cancelled on Mosaic and failed after this long
WAIT_S = 240.0
RUN_S = 9.0  # a run outlasts the cancel of a late duplicate, as Seedance's minutes do


@pytest.fixture
def faulty_sim(tmp_path):
    config = SimConfig(latency=RUN_S, latency_per_second=0.0, media_dir=tmp_path / "sim")
    with Simulator(config).start() as simulator:
        yield simulator


def campaign_settings(sim, data_dir):
    return settings_for(
        sim,
        data_dir,
        timeout=STUDIO_TIMEOUT_S,
        max_retries=2,
        max_in_flight=6,
        unknown_outcome_horizon=20.0,
        run_deadline=RUN_DEADLINE_S,
        download_deadline=30.0,
        download_min_rate=50_000.0,
        download_rate_window=1.0,
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_a_grid_under_every_fault_saves_no_wrong_video_and_leaves_no_billed_run_untracked(faulty_sim, tmp_path, seed):
    sim = faulty_sim
    services = svc.build_services(campaign_settings(sim, tmp_path / "data"))
    try:
        sim.set_faults(
            Faults(
                server_error=0.08,
                drop=0.05,
                slow=0.08,
                late=0.08,
                slow_seconds=LATE_S,
                trickle_bytes_per_s=2_000,
                routes=frozenset(FAULTED_ROUTES),
                seed=seed,
            )
        )
        for kind, route, count in SCRIPTED:
            sim.script_fault(kind, route, count)
        base = VideoGenerationParams(prompt="A heron lifts off a misty lake at dawn", duration="4")
        _, ids = svc.start_grid(
            services, base, resolutions=["480p", "720p"], aspect_ratios=["16:9", "9:16", "1:1"], durations=["4", "5"]
        )
        gens = svc.wait_for(services, ids, timeout=WAIT_S)
        sim.set_faults(Faults())
        figures = _judge(sim, services, gens)
    finally:
        services.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"campaign-seed{seed}.txt").write_text(
        "".join(f"{name}: {value}\n" for name, value in figures.items())
    )
    print(figures)
    assert figures["jobs ended"] == figures["jobs"], figures
    assert figures["wrong or broken videos saved"] == 0, figures
    assert figures["runs followed by two jobs"] == 0, figures
    assert figures["untracked billed runs"] == 0, figures
    assert figures["stray runs that finished before their cancel"] == 0, figures
    assert figures["failed without a message"] == 0, figures
    assert figures["runs still going on Mosaic after every job ended"] == 0, figures
    # The campaign did shake things: every scripted misbehaviour happened, and the dice rolled.
    assert {kind for kind, _, _ in SCRIPTED} <= set(figures["faults by kind"]), figures
    assert figures["faults injected"] >= 2 * len(SCRIPTED), figures


def _judge(sim, services, gens) -> dict[str, Any]:
    "What a fault test from outside would count, from the studio's rows, its files and the simulator."
    store = services.store
    wrong = []
    for gen in gens:
        if gen.status != "done":
            continue
        path = services.media_path(gen.video_path)
        try:
            facts = media.verify(
                path, sizes=[output_size(gen.resolution, gen.aspect_ratio)], seconds=float(gen.duration)
            )
        except Exception as err:  # a count, not a crash: every kind of failure is a wrong video
            wrong.append(f"{gen.id}: {err}")
            continue
        if media.sha256_file(path) != gen.sha256 or (facts.width, facts.height) != (gen.width, gen.height):
            wrong.append(f"{gen.id}: the file is not the one recorded")
    followers = Counter(g.run_id for g in store.many([g.id for g in gens]) if g.run_id)
    strays = {row["run_id"]: row for row in store.stray_runs(limit=1000)}
    with sim.lock:
        runs = {run_id: run.status for run_id, run in sim.runs.items()}
    untracked = [
        f"{run_id} {status}" for run_id, status in runs.items() if run_id not in followers and run_id not in strays
    ]
    # A stray that finished before its cancel arrived was billed; it is recorded, never hidden.
    billed_strays = [r for r, row in strays.items() if runs.get(r) != "cancelled"]
    ended = [g for g in gens if g.status in FINAL_STATUSES]
    longest = max(
        (datetime.fromisoformat(g.finished_at) - datetime.fromisoformat(g.created_at)).total_seconds()
        for g in ended
        if g.finished_at
    )
    return {
        "jobs": len(gens),
        "jobs ended": len(ended),
        "done": sum(g.status == "done" for g in gens),
        "failed": sum(g.status == "failed" for g in gens),
        "failed without a message": sum(g.status == "failed" and not g.error for g in gens),
        "wrong or broken videos saved": len(wrong),
        "runs created by the simulator": len(runs),
        "runs followed by two jobs": sum(n > 1 for n in followers.values()),
        "stray runs recorded": len(strays),
        "stray runs that finished before their cancel": len(billed_strays),
        "untracked billed runs": len(untracked),
        "runs still going on Mosaic after every job ended": sum(status == "running" for status in runs.values()),
        "agents on the account": len(sim.agents),
        "faults injected": sum(sim.faults_injected.values()),
        "faults by kind": dict(sorted(sim.faults_injected.items())),
        "failure messages": sorted({(g.error or "")[:90] for g in gens if g.status == "failed"}),
        "longest job (s)": round(longest, 1),
        "wrong videos": wrong,
        "untracked runs": untracked,
    }
