"""Which runs belong to which job (issue 7 §1): a run is adopted only with proof that it is the
job's own, an agent whose POST has an unknown outcome is kept from other jobs until the outcome is
known, a late run nobody needs is cancelled and recorded, and agents whose create or update answer
was lost do not pile up on the account.

The simulator produces both orders of a lost answer: "slow" creates the run and answers late,
"late" holds the request and creates the run only after the client has given up.
"""

from __future__ import annotations

import time

import pytest
from support import settings_for, use_sim_env

from studio import cli
from studio import services as svc
from studio.models import VideoGenerationParams
from studio.simulator import Faults, SimConfig, Simulator

pytestmark = pytest.mark.usefixtures("clean_sim")

CLIENT_TIMEOUT_S = 1.0  # the studio gives up on an answer after this long ...
LATE_S = 6.0  # ... and the simulator creates the run this long after the POST arrived
WAIT_S = 60.0
RUN_S = 3.0  # a run outlasts the cancel of a late duplicate (Seedance's take minutes), even under load


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


@pytest.fixture
def patient_sim(tmp_path):
    "A simulator whose runs take RUN_S seconds, so a late duplicate is still running when it is cancelled."
    with Simulator(SimConfig(latency=RUN_S, latency_per_second=0.0, media_dir=tmp_path / "sim")).start() as simulator:
        yield simulator


def test_a_late_run_is_never_adopted_by_another_job_nor_left_billing(patient_sim, tmp_path):
    """The issue's reproduction, scaled down: A's POST answer comes after the studio gave up and the
    run is created later still; A goes on elsewhere. B's POST on the same pool then gets a 502.
    B must end with its own 720p 16:9 6 s video, and A's late run must be cancelled and recorded."""
    sim = patient_sim
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


@pytest.mark.parametrize("fault", ["late", "slow"])
def test_the_simulator_creates_the_run_before_or_after_a_lost_answer(sim, fault):
    "Both orders: 'slow' creates the run and answers late, 'late' creates it only after the wait."
    from sim_helpers import api_client, make_agent

    sim.set_faults(Faults(slow_seconds=1.5))
    with api_client(sim.base_url) as client:
        agent_id, node_id = make_agent(client)
        sim.script_fault(fault, route="run")
        import threading

        answer: list[int] = []
        body = {"update_params": {node_id: {"prompt": "A kite over a beach"}}}

        def send() -> None:
            answer.append(client.post(f"/agent/{agent_id}/run", json=body).status_code)

        post = threading.Thread(target=send)
        post.start()
        time.sleep(0.7)  # the request is being held
        runs_meanwhile = sim.runs_for_agent(agent_id)
        post.join(10)
    assert answer == [200]
    assert runs_meanwhile == (0 if fault == "late" else 1)
    assert sim.runs_for_agent(agent_id) == 1


def test_a_runtime_clone_reports_the_params_its_run_used(sim):
    "GET /agent_nodes/{clone}: the node's saved params with the run's update_params applied."
    from sim_helpers import SMALL, api_client, make_agent, start_run

    with api_client(sim.base_url) as client:
        agent_id, node_id = make_agent(client)
        run_id = start_run(client, agent_id, node_id, prompt="A lighthouse at dusk", params={"aspect_ratio": "1:1"})
        [clone] = client.get(f"/agent_run/{run_id}/nodes").json()["nodes"]
        assert clone["original_node_id"] == node_id and clone["agent_node_id"] != node_id
        used = client.get(f"/agent_nodes/{clone['agent_node_id']}").json()["agent_node"]["params_used"]
        assert used["prompt"] == "A lighthouse at dusk" and used["aspect_ratio"] == "1:1"
        assert used["resolution"] == SMALL["resolution"]
        template = client.get(f"/agent_nodes/{node_id}").json()["agent_node"]["params_used"]
        assert "prompt" not in template and template["aspect_ratio"] == SMALL["aspect_ratio"]
        assert client.get("/agent_nodes/nope").status_code == 404


def test_without_proof_of_ownership_a_found_run_is_cancelled_not_adopted(sim, tmp_path):
    """An API without GET /agent_nodes: the run a lost answer started cannot be proven to be the
    job's, so it is not adopted (never by time window alone): it is cancelled and recorded, the job
    says why, and goes on with a run of its own."""
    sim.set_faults(Faults(legacy_api=True))
    services = svc.build_services(settings_for(sim, tmp_path / "d", timeout=CLIENT_TIMEOUT_S))
    try:
        sim.script_fault("drop", route="run")  # the run is created, its answer is cut off
        gen_id = svc.generate(services, params(resolution="480p", aspect_ratio="1:1", duration="4"))[0]
        [gen] = svc.wait_for(services, [gen_id], timeout=WAIT_S)
        assert gen.status == "done", gen.error
        [stray] = wait_for(lambda: services.store.stray_runs(), what="a recorded stray")
        assert stray["generation_id"] == gen_id and stray["run_id"] != gen.run_id
        assert "which settings" in stray["reason"] and stray["cancelled_at"]
        # Cancelled, unless this quick simulator run had already ended by then (then it says so).
        status = sim_runs(sim)[stray["run_id"]][1]
        assert stray["outcome"] == "cancelled" if status == "cancelled" else "already ended" in stray["outcome"]
        assert "was not adopted" in (services.store.job(gen_id).get("last_error") or "")
    finally:
        services.close()


def live_agents(sim, *, deleted: bool = False) -> set[str]:
    "The simulator's agents on the account (or, with `deleted`, the deleted ones)."
    with sim.lock:
        return {a.id for a in sim.agents.values() if a.deleted == deleted}


@pytest.mark.parametrize("fault", ["drop", "slow"])
def test_agents_whose_create_or_update_answer_was_lost_do_not_pile_up(sim, tmp_path, fault):
    sim.set_faults(Faults(slow_seconds=2.0))
    before, deleted_before = live_agents(sim), live_agents(sim, deleted=True)
    services = svc.build_services(settings_for(sim, tmp_path / "d", timeout=CLIENT_TIMEOUT_S))
    try:
        # The create happens but its answer is lost; then the node is added but that answer is lost.
        sim.script_fault(fault, route="agent_create")
        sim.script_fault(fault, route="agent_update")
        [gen] = svc.wait_for(services, svc.generate(services, params(duration="4")), timeout=WAIT_S)
        assert gen.status == "done", gen.error
        assert live_agents(sim) - before == {gen.agent_id}, "one agent on the account, the one in use"

        # Two at once need a second agent; its node-add is refused with a 502 (nothing added): that
        # agent is deleted rather than given a node a late answer might double.
        errors_before = sim.stats()["faults_injected"].get("server_error", 0)
        sim.script_fault("server_error", route="agent_update")
        gens = svc.wait_for(services, svc.generate(services, params(duration="4"), takes=2), timeout=WAIT_S)
        assert [g.status for g in gens] == ["done", "done"], [g.error for g in gens]
        assert live_agents(sim) - before == set(services.store.agent_ids()), "only the pool's agents remain"
        if sim.stats()["faults_injected"].get("server_error", 0) > errors_before:
            # (On a loaded machine the second take may find the first agent free and need no other.)
            assert live_agents(sim, deleted=True) - deleted_before, "the agent without its node was deleted"
        assert not services.store.agent_intents(services.runner.scope, "reuse")
    finally:
        services.close()


def test_studio_status_lists_the_stray_runs(idle, capsys, monkeypatch):
    "A person sees the recorded strays (and agents kept aside) in `studio status`."
    from studio import cli

    store = idle.store
    gen_id = store.add_generation(params())
    assert store.claim_stray("run-late-1", gen_id, "agent-1", "a late duplicate: the job already follows run r0")
    store.stray_cancelled("run-late-1", "cancelled", ended=True)
    store.begin_post("agent-2", gen_id, "node-2")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(idle.settings.data_dir))
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "stray runs (found on our agents, followed by no take): 1" in out
    assert "run-late-1" in out and "late duplicate" in out and "cancelled 20" in out
    assert "1 agent(s) kept aside" in out


def test_an_unanswered_post_survives_a_restart_and_keeps_its_agent_from_other_jobs(idle):
    "The unknown outcome is in SQLite: reopened, the agent is still not lent to another job."
    from studio.store import HistoryStore

    store = idle.store
    store.add_agent("agent-1", "node-1", scope="s", flow="reuse", leased_by=None)
    store.begin_post("agent-1", "gen-a", "node-1")
    again = HistoryStore(idle.settings.db_path)
    assert again.lease_agent("s", "reuse", "gen-b") is None
    again.end_post("agent-1")
    lease = again.lease_agent("s", "reuse", "gen-b")
    assert lease is not None and lease.agent_id == "agent-1"


UNANSWERED = "had no answer; a late duplicate run may still appear on Mosaic"


@pytest.mark.parametrize(("late_s", "says"), [(2.0, False), (4 * cli.LATE_RUN_LOOK_S, True)])
def test_wait_looks_for_a_late_run_before_exiting_and_says_when_one_may_still_come(
    late_s, says, tmp_path, monkeypatch, capsys
):
    """`generate --wait` gives the worker a bounded last look for the run of an unanswered request:
    one that turns up is known (adopted or cancelled); one that may still come is named on stderr."""
    with Simulator(SimConfig(media_dir=tmp_path / "sim")).start() as sim:
        use_sim_env(monkeypatch, sim)
        monkeypatch.setenv("STUDIO_TIMEOUT", str(CLIENT_TIMEOUT_S))
        sim.set_faults(Faults(slow_seconds=late_s))
        sim.script_fault("late", route="run")
        code = cli.main(["generate", "A kite over a beach", "--resolution", "480p", "--duration", "4", "--wait"])
        err = capsys.readouterr().err
        services = svc.build_services(settings_for(sim, tmp_path / "data"), start_worker=False)
        try:
            waiting, strays = svc.agents_waiting(services), services.store.stray_runs()
        finally:
            services.close()
    assert code == 0, err
    assert (UNANSWERED in err) == says, err
    if says:
        assert waiting == 1 and f"1 run request {UNANSWERED}" in err
    else:  # the late run turned up in time: adopted by its job, or recorded and cancelled
        assert waiting == 0 and all(s["cancelled_at"] for s in strays), (strays, err)
