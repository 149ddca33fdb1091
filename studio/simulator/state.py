"""The simulator's records (agents, runs and their nodes, renders, uploads) and their persistence:
a JSON state file written atomically at most a few times a second, restored at start, and moved
aside (never trusted) when unreadable. The live records sit on the `Simulator`, under its lock.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import rendering
from .protocol import iso, now_ts

if TYPE_CHECKING:
    from .server import Simulator

STATE_VERSION = 1
STATE_SAVE_INTERVAL_S = 0.2  # at most five state writes a second, however busy a grid is
RUN_STATUSES = ("running", "completed", "partial_complete", "failed", "cancelled")
TERMINAL_NODE_STATUSES = ("completed", "failed", "cancelled", "partial_complete")

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ state


@dataclass
class Agent:
    id: str
    seq: int
    name: str
    description: str
    visibility: str
    workspace_id: str | None
    created_at: float
    updated_at: float
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent_node_id -> node
    connections: list[tuple[str, str]] = field(default_factory=list)
    deleted: bool = False


@dataclass
class Render:
    id: str
    video: Path
    thumbnail: Path | None
    completed_at: float
    expires: int
    original_node_id: str


@dataclass
class RunNode:
    id: str  # runtime clone id
    original_node_id: str
    node_type_id: str
    params: dict[str, Any]
    seconds: int = 0
    size: tuple[int, int] = (0, 0)
    plan: str = "ok"  # ok | fail | credits | hang (never ends) | pass (a non-generation node: completes, no output)
    status: str = "queued"
    status_message: str | None = None
    errors: list[str] = field(default_factory=list)
    needs_credits: bool = False
    due_at: float = 0.0
    # What the realistic latency profile needs, and when the node left the queue (for progress).
    resolution: str = ""
    video_reference: bool = False
    queued_until: float = 0.0
    started_at: float = 0.0
    future: Future | None = None
    render: Render | None = None


@dataclass
class Run:
    id: str
    seq: int
    agent_id: str
    created_at: float
    updated_at: float
    nodes: list[RunNode]
    outcome: str
    callback_url: str | None
    base_url: str
    status: str = "running"
    status_message: str | None = None
    needs_credits: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Upload:
    id: str
    type: str
    key: str
    policy: str
    signature: str
    max_bytes: int
    expires: int
    path: Path | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    finalized: bool = False


def save_state(sim: Simulator, *, force: bool = False) -> None:
    "Write the state file if anything changed (scheduler, and once on stop); failed writes are retried."
    if sim.state_file is None:
        return
    with sim.save_lock:
        with sim.lock:
            if not (sim.dirty or force):
                return
            # Serialized under the lock: node params and errors are shared with live objects.
            text = json.dumps(
                snapshot(
                    sim,
                ),
                separators=(",", ":"),
            )
            sim.dirty = False
        try:
            write_atomic(sim.state_file, text)
        except OSError as err:
            with sim.lock:
                sim.dirty = True
            if not sim.save_failing:  # one warning per failure streak, not five a second
                log.warning("simulator state not saved to %s: %s", sim.state_file, err)
            sim.save_failing = True
            return
        sim.save_failing = False


def snapshot(sim: Simulator) -> dict[str, Any]:
    "Everything a restart must keep, JSON-ready (lock held). Absolute URLs are never stored."

    def render(r: Render | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {**vars(r), "video": r.video.name, "thumbnail": r.thumbnail.name if r.thumbnail else None}

    def node(n: RunNode) -> dict[str, Any]:
        # A clip that finished rendering before its due time is kept, so a restart needn't redo it.
        f, pending = n.future, None
        waiting = n.render is None and n.status in ("queued", "running")
        if waiting and f is not None and f.done() and not f.cancelled() and f.exception() is None:
            pending = f.result()
        return {
            **{k: v for k, v in vars(n).items() if k not in ("future", "render")},
            "render": render(n.render),
            "pending_render": render(pending),
        }

    def upload(u: Upload) -> dict[str, Any]:
        path = u.path
        if path is not None and path.is_relative_to(sim.media_dir):
            path = path.relative_to(sim.media_dir)  # the media dir may move with the state file
        return {**vars(u), "path": str(path) if path is not None else None}

    return {
        "version": STATE_VERSION,
        "saved_at": iso(now_ts()),
        "secret": sim.secret.hex(),
        "seq": sim.seq,
        "balance": sim.balance,
        "agents": [vars(a) for a in sim.agents.values()],
        "runs": [
            {
                **{k: v for k, v in vars(r).items() if k not in ("nodes", "base_url")},
                "nodes": [node(n) for n in r.nodes],
            }
            for r in sim.runs.values()
        ],
        "uploads": [upload(u) for u in sim.uploads.values()],
    }


def load_state(sim: Simulator, path: Path) -> None:
    "Restore the state file if there is one; an unreadable one is moved aside and we start empty."
    if not path.exists():
        return
    try:
        restore(sim, json.loads(path.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        try:
            os.replace(path, aside)
        except OSError as move_err:
            log.warning(
                "simulator state %s is unreadable (%s) and could not be moved aside (%s); "
                "starting empty, the next save replaces it",
                path,
                err,
                move_err,
            )
        else:
            log.warning("simulator state %s is unreadable (%s); moved to %s, starting empty", path, err, aside.name)


def restore(sim: Simulator, state: dict[str, Any]) -> None:
    "Adopt a saved state; raises (and changes nothing) when any part of it is malformed."
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {state.get('version')!r}")
    renders_dir = sim.media_dir / "renders"

    def render(data: dict[str, Any] | None) -> Render | None:
        if data is None:
            return None
        thumb = data["thumbnail"]
        return Render(
            **{
                **data,
                "video": renders_dir / Path(data["video"]).name,
                "thumbnail": renders_dir / Path(thumb).name if thumb else None,
            }
        )

    def node(data: dict[str, Any]) -> RunNode:
        pending = render(data.pop("pending_render"))
        loaded = RunNode(**{**data, "size": tuple(data["size"]), "render": render(data["render"])})
        if pending is not None and pending.video.is_file():
            if pending.thumbnail is not None and not pending.thumbnail.is_file():
                pending.thumbnail = None
            loaded.future = Future()
            loaded.future.set_result(pending)
        return loaded

    def run(data: dict[str, Any]) -> Run:
        if data["status"] not in RUN_STATUSES:
            raise ValueError(f"run {data['id']} has unknown status {data['status']!r}")
        return Run(**{**data, "nodes": [node(n) for n in data["nodes"]], "base_url": ""})

    def upload(data: dict[str, Any]) -> Upload:
        return Upload(**{**data, "path": sim.media_dir / data["path"] if data["path"] else None})

    secret = bytes.fromhex(state["secret"])
    if len(secret) < 16:
        raise ValueError("the signing secret is too short")
    agents = [Agent(**{**a, "connections": [tuple(c) for c in a["connections"]]}) for a in state["agents"]]
    runs = [run(r) for r in state["runs"]]
    uploads = [upload(u) for u in state["uploads"]]
    seq, balance = int(state["seq"]), float(state["balance"])
    with sim.lock:
        sim.secret, sim.seq, sim.balance = secret, seq, balance
        sim.agents = {a.id: a for a in agents}
        sim.runs = {r.id: r for r in runs}
        sim.uploads = {u.id: u for u in uploads}
        sim.runs_by_agent = Counter(r.agent_id for r in runs)
        # Runs in flight keep their due times; a clip lost with the old process is rendered again.
        for loaded in runs:
            if loaded.status != "running":
                continue
            for n in loaded.nodes:
                if n.plan == "ok" and n.render is None and n.status in ("queued", "running") and n.future is None:
                    n.future = sim.render_pool.submit(rendering.render, sim, n)


def write_atomic(path: Path, text: str) -> None:
    "Replace `path` with `text` in one step: a reader sees the old file or the new one, never half."
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp makes the file owner-only (0600), which suits a file holding the URL signing secret.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
