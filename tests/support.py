"""Helpers shared by the test files (import as `from support import ...`)."""

from __future__ import annotations

import time

from studio.settings import Settings

TEST_KEY = "mk_test_runner_key_7c1d"


def settings_for(sim, data_dir, **overrides) -> Settings:
    "Settings that talk to the test simulator as if it were Mosaic, polling quickly."
    base = dict(
        api_key=TEST_KEY,
        base_url=sim.base_url,
        data_dir=data_dir,
        poll_interval=0.1,
        max_poll_interval=0.3,
        timeout=5.0,
    )
    return Settings(**{**base, **overrides})


def wait_until(at, pred, timeout: float = 30.0, step: float = 0.2):
    "run_every never ticks in AppTest: rerun the page until the worker has moved the jobs on."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if pred(at):
            return at
        time.sleep(step)
    raise AssertionError("the page did not reach the expected state in time")
