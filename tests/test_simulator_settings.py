"""The simulator's one settings object: STUDIO_SIM_* variables, the command-line flags generated
from its fields, their documentation, and the realistic profile with its time scale."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from sim_helpers import api_client, make_agent, start_run, wait_run

from studio import latency
from studio.simulator import Faults, SimSettings, Simulator, cli, scheduler
from studio.simulator.state import RunNode

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_flags_map_onto_fields_and_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("STUDIO_SIM_LATENCY", "7")
    monkeypatch.setenv("STUDIO_SIM_TIME_SCALE", "0.5")
    monkeypatch.setenv("STUDIO_SIM_FAULTS__SEED", "4")
    settings = cli.settings_from_args(
        ["--realistic", "--time-scale", "0.02", "--port", "0", "--credits", "50", "--fault-drop", "0.1"]
    )
    assert settings.realistic is True and settings.time_scale == 0.02 and settings.port == 0
    assert settings.latency == 7 and settings.credits_balance == 50
    assert settings.faults.drop == 0.1 and settings.faults.seed == 4  # a fault flag keeps the other variables
    routes = cli.settings_from_args(["--fault-routes", "run,run_get", "--fault-storage"]).faults
    assert routes.routes == frozenset({"run", "run_get"}) and routes.include_storage is True


@pytest.mark.parametrize("argv", [["--time-scale", "0"], ["--fault-drop", "2"], ["--fault-routes", "nowhere"]])
def test_bad_flags_exit_2_with_a_message(argv, capsys):
    assert cli.main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_every_flag_has_a_field_and_its_help():
    parser = cli.parser()
    dests = {a.dest for a in parser._actions if a.dest != "help"}
    fields = set(SimSettings.model_fields) - cli.NO_FLAG
    assert dests == fields | {f"fault.{name}" for name in Faults.model_fields}
    assert all(a.help and "STUDIO_SIM_" in a.help for a in parser._actions if a.dest != "help")


@pytest.mark.parametrize("field", sorted(set(SimSettings.model_fields) - {"faults"}))
def test_every_setting_is_in_the_readme(field):
    assert f"`STUDIO_SIM_{field.upper()}`" in README


def test_every_fault_is_in_the_readme():
    row = re.search(r"^\| `STUDIO_SIM_FAULTS__<NAME>`.*$", README, re.M)
    assert row, "the README lists the fault variables in one row"
    for name in Faults.model_fields:
        assert f"`{name}`" in row.group(0)


def test_settings_reject_bad_values():
    with pytest.raises(ValidationError):
        SimSettings(time_scale=-1)
    with pytest.raises(ValueError):
        Faults(drop=True)


def test_realistic_runs_take_the_profiles_time_scaled_and_seeded(tmp_path):
    settings = SimSettings(realistic=True, time_scale=0.002, latency_seed=11, media_dir=tmp_path / "a")
    rng = random.Random(11)
    expected = [latency.sample_seconds(rng, "480p", 4) * 0.002 for _ in range(2)]
    with Simulator(settings).start() as sim, api_client(sim.base_url) as client:
        agent_id, node_id = make_agent(client)
        run_ids = [start_run(client, agent_id, node_id, f"take {i}") for i in range(2)]
        planned = [sim.runs[r].nodes[0].due_at - sim.runs[r].created_at for r in run_ids]
        assert planned == pytest.approx(expected, abs=0.01)  # created_at and due_at are a few ms apart
        assert all(wait_run(client, r)["status"] == "completed" for r in run_ids)


def test_a_time_scale_of_0_02_makes_five_minutes_six_seconds(tmp_path):
    sim = Simulator(cli.settings_from_args(["--realistic", "--time-scale", "0.02", "--media-dir", str(tmp_path)]))
    try:
        draw = latency.sample_seconds(random.Random(0), "720p", 5)
        node = RunNode(id="n", original_node_id="o", node_type_id="t", params={}, seconds=5)
        node.resolution = "720p"
        assert scheduler.run_time(sim, node) == pytest.approx(draw * 0.02)
    finally:
        sim.stop()


def test_the_fixed_latency_stays_the_default(monkeypatch):
    for name in [n for n in os.environ if n.startswith("STUDIO_SIM_")]:
        monkeypatch.delenv(name)
    settings = SimSettings()
    assert settings.realistic is False and settings.time_scale == 1.0
    assert (settings.latency, settings.latency_per_second) == (3.0, 0.1)
