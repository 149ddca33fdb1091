"""docs/deploy.md shows the commands the scenario test runs (tests/cluster.py), the proxy configuration
it uses (deploy/haproxy.cfg, byte for byte) and every variable the deployment sets; and that
configuration is one haproxy accepts."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from cluster import COMMANDS, DEPLOYMENT_VARS, HAPROXY, HAPROXY_CONFIG, PROXY_BIND, REPLICA_VARS, ROOT

DOC = (ROOT / "docs" / "deploy.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", DOC, re.S)
# The doc's example values for the placeholders of COMMANDS.
DOC_EXAMPLE = {"simulator": {"port": 8765, "latency": 4}, "replica": {"port": 8501}}


def test_the_doc_shows_the_proxy_configuration_the_test_uses():
    assert ("haproxy", HAPROXY_CONFIG.read_text()) in BLOCKS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_doc_shows_each_command_the_test_runs(command):
    line = COMMANDS[command].format(**DOC_EXAMPLE.get(command, {}))
    shell = "\n".join(text for kind, text in BLOCKS if kind == "bash")
    # The line as written, after any per-process variables (VAR=value, perhaps continued by a \).
    assert re.search(rf"^\s*(?:\S+=\S+ (?:\\\n\s*)?)*{re.escape(line)}(?:\s|$)", shell, re.M), line


def test_the_doc_names_every_variable_the_deployment_sets():
    for var in (*DEPLOYMENT_VARS, PROXY_BIND, *REPLICA_VARS.values()):
        assert var in DOC, var
    assert all(f"${{{var}}}" in HAPROXY_CONFIG.read_text() for var in (PROXY_BIND, *REPLICA_VARS.values()))


@pytest.mark.skipif(
    shutil.which(HAPROXY) is None, reason="Debian's haproxy is not installed (scripts/test installs it)"
)
def test_haproxy_accepts_the_configuration():
    env = {PROXY_BIND: "127.0.0.1:8080", **dict.fromkeys(REPLICA_VARS.values(), "127.0.0.1:8501")}
    done = subprocess.run(
        [HAPROXY, "-c", "-f", str(HAPROXY_CONFIG)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    missing = subprocess.run(
        [HAPROXY, "-c", "-f", str(HAPROXY_CONFIG)], env={}, capture_output=True, text=True, timeout=30
    )
    assert missing.returncode != 0  # without the addresses it does not start on some default


def test_the_harness_sets_only_documented_variables(tmp_path):
    from cluster import TEST_TUNING, Cluster

    cluster = Cluster(tmp_path, database_url="postgresql://x@127.0.0.1/db", media_url="s3://b/p")
    cluster.ports["simulator"] = 8765
    aws = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "r",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    cluster.aws = aws
    env = cluster.studio_env("a", worker_inside=False)
    ours = {k for k in env if k.startswith(("STUDIO_", "MOSAIC_", "AWS_", "STREAMLIT_"))}
    assert ours == set(DEPLOYMENT_VARS) | set(TEST_TUNING)
