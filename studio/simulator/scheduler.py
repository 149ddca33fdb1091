"""The run scheduler: plans how each node ends and when (the fixed latency, or Seedance 2's
realistic profile from studio.latency, both times `time_scale`), then advances every running run
from one thread: queued → running → completed/failed, with a webhook for every change.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from .. import latency
from ..models import output_size
from . import rendering, state, webhooks
from .protocol import now_ts
from .state import STATE_SAVE_INTERVAL_S, TERMINAL_NODE_STATUSES, Run, RunNode
from .uploads import SIGNED_URL_TTL_S

if TYPE_CHECKING:
    from .server import Simulator

TICK_S = 0.05
# A run spends its first tenth queued upstream before the model starts (status "queued"), so a
# client sees queued → running → completed move in proportion to the run's length.
QUEUE_SHARE = 0.1
FAIL_MESSAGE = "Video generation failed: the model returned an error (simulated)"
CREDITS_MESSAGE = "Insufficient credits"

log = logging.getLogger(__name__)


def run_time(sim: Simulator, node: RunNode) -> float:
    "Seconds from start to finish for a node: fixed, or drawn from the realistic profile (lock held)."
    config = sim.config
    if config.realistic and node.plan != "pass":
        drawn = latency.sample_seconds(
            sim.latency_rng, node.resolution or "720p", node.seconds, video_reference=node.video_reference
        )
    else:
        drawn = config.latency + config.latency_per_second * node.seconds
    return drawn * config.time_scale


def start_nodes(sim: Simulator, run: Run, nodes: list[RunNode], outcome: str) -> None:
    "Plan how `nodes` end under `outcome`, queue them and start their renders."
    run.outcome = outcome
    generators = [n for n in nodes if n.plan != "pass"]
    now = now_ts()
    for index, node in enumerate(generators):
        if outcome == "needs_credits":
            node.plan = "credits"
        elif outcome == "run_hang":
            node.plan = "hang"  # goes running, then never moves again: only a cancel ends it
        elif outcome == "run_fail" or (outcome == "run_partial" and (index > 0 or len(generators) == 1)):
            node.plan = "fail"
        else:
            node.plan = "ok"
        if outcome == "wrong_size":
            node.size = wrong_size(node.size)
        took = run_time(sim, node)
        node.queued_until, node.due_at = now + QUEUE_SHARE * took, now + took
        if node.plan == "ok":
            node.future = sim.render_pool.submit(rendering.render, sim, node)
    for node in nodes:
        node.status, node.status_message, node.errors, node.needs_credits = "queued", None, [], False
        if node.plan == "pass":
            node.due_at = now


def wrong_size(size: tuple[int, int]) -> tuple[int, int]:
    "A frame size a take asked for as `size` never has (the wrong_size fault): 480p 1:1, else 480p 16:9."
    other = output_size("480p", "1:1")
    return output_size("480p", "16:9") if size == other else other


def schedule_loop(sim: Simulator) -> None:
    "The scheduler thread: tick every TICK_S and save the state file now and then."
    next_save = 0.0
    while not sim.stopping.wait(TICK_S):
        try:
            tick(sim)
            if sim.state_file is not None and time.monotonic() >= next_save:
                state.save_state(sim)
                next_save = time.monotonic() + STATE_SAVE_INTERVAL_S
        except Exception:
            log.exception("simulator scheduler tick failed")


def tick(sim: Simulator) -> None:
    "Advance every running run by the clock and the render pool; send webhooks for changes."
    now = now_ts()
    with sim.lock:
        for run in [r for r in sim.runs.values() if r.status == "running"]:
            changed = [n for n in run.nodes if advance(sim, run, n, now)]
            if not changed:
                continue
            run.updated_at, sim.dirty = now, True
            finished = all(n.status in TERMINAL_NODE_STATUSES for n in run.nodes)
            if finished:
                finish(sim, run)
            webhooks.notify(sim, run, webhooks.event(sim, run, "RUN_PROGRESS", changed))
            if finished:
                webhooks.notify(sim, run, webhooks.event(sim, run, "RUN_FINISHED"))


def advance(sim: Simulator, run: Run, node: RunNode, now: float) -> bool:
    "Move one node on if its time has come; True when its status changed (lock held)."
    if node.status == "queued":
        # A generation node counts as running once its share of queueing is over and the render
        # pool has picked up its clip.
        picked = node.future is None or node.future.running() or node.future.done()
        if picked and now >= node.queued_until:
            node.status, node.started_at = "running", now
            return True
        return False
    if node.status != "running" or now < node.due_at or node.plan == "hang":
        return False
    if node.plan == "pass":
        node.status = "completed"
    elif node.plan == "fail":
        node.status, node.status_message = "failed", FAIL_MESSAGE
        node.errors = [FAIL_MESSAGE]
    elif node.plan == "credits":
        block_for_credits(node)
    elif node.future is not None and node.future.done():
        try:
            render = node.future.result()
        except Exception as err:
            node.status, node.status_message = "failed", f"Render failed: {err}"[:500]
            node.errors = [node.status_message]
            return True
        cost = sim.config.credits_per_second * node.seconds
        if cost > sim.balance:
            block_for_credits(node)
            return True
        sim.balance -= cost
        render.completed_at, render.expires = now, int(now) + SIGNED_URL_TTL_S
        node.render, node.status = render, "completed"
    else:
        return False  # the clip is still rendering: never report completed before the file exists
    return True


def block_for_credits(node: RunNode) -> None:
    "End a node as credit-blocked (needs_credits)."
    node.status, node.status_message, node.needs_credits = "failed", CREDITS_MESSAGE, True
    node.errors = [CREDITS_MESSAGE]


def finish(sim: Simulator, run: Run) -> None:
    "Set a run's final status, message and errors from its nodes."
    generators = [n for n in run.nodes if n.plan != "pass"]
    done = [n for n in generators if n.status == "completed"]
    failed = [n for n in generators if n.status == "failed"]
    run.needs_credits = any(n.needs_credits for n in run.nodes)
    run.errors = [{"original_node_id": n.original_node_id, "message": n.status_message} for n in failed]
    if run.outcome == "run_partial" or (done and failed):
        # One generation node cannot half-succeed; a scripted partial still reports like the docs.
        run.status = "partial_complete"
        run.status_message = f"{len(failed)} of {len(generators)} outputs failed"
    elif failed:
        run.status, run.status_message = "failed", failed[0].status_message
    else:
        run.status, run.status_message = "completed", None
