"""Scenario (issue 10 §4): the studio deployed as docs/deploy.md says, on 127.0.0.1 (tests/cluster.py):
the Mosaic simulator, two `studio serve` replicas behind haproxy with cookie stickiness, the job
workers, one shared database and media store. A producer pinned to replica A launches a 12-cell
comparison on Compare in Chromium; mid-way worker 1 and replica A are SIGKILLed. The browser goes
on through the proxy (now to replica B) and sees the whole comparison play; the simulator counted
one run per cell and no other; every file is in the media store with the sha256 on its row; and a
share link made on B is answered by either replica (A started again with the same command).
"""

from __future__ import annotations

import hashlib
import re
import time

import httpx
import pytest
from browser import pick, screenshot, videos_ready, wait_for_app
from cluster import CLUSTER_KEY, Cluster, wait_until

from studio.store import HistoryStore

PROMPT = "A lighthouse keeper climbing a spiral stair in a storm"
CELLS = 12  # 720p × 3 aspect ratios × 2 durations × audio on and off
TABS = 4  # one tab per duration × audio, each a 720p × 3-ratio grid
SIM_LATENCY_S = 4.0  # each run's time at the simulator: long enough to kill the workers mid-way
IN_FLIGHT = 2  # runs a worker keeps at Mosaic at once: the comparison goes in waves
SHARE_URL = re.compile(r"http://127\.0\.0\.1:\d+/share/[A-Za-z0-9_-]{43}")
# Played muted (allowed without a gesture): the video's time must move on.
PLAY = "v => { v.muted = true; v.play(); }"
DB_PASSWORD = "stair-storm-4417"  # the studio role's: in no log, page or share page
PLAYED = "v => v.currentTime > 0.3"


@pytest.fixture
def cluster(tmp_path, pg_server, seaweed):
    """The deployment of docs/deploy.md: PostgreSQL (a role that logs in with a password), SeaweedFS
    (S3), two replicas, two workers, haproxy."""
    bucket = f"cluster-{int(time.time() * 1000) % 10**9}"
    seaweed.make_bucket(bucket)
    role = pg_server.password_role(DB_PASSWORD)
    options = {
        "workers": 2,
        "database_url": pg_server.fresh_database("cluster", owner=role, password=DB_PASSWORD),
        "media_url": f"s3://{bucket}/studio",
        "aws": seaweed.environment(),
    }
    deployment = Cluster(
        tmp_path / "cluster", latency=SIM_LATENCY_S, extra_env={"STUDIO_MAX_IN_FLIGHT": str(IN_FLIGHT)}, **options
    )
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()


def job_counts(cluster: Cluster, replica: str) -> dict[str, int]:
    return dict(httpx.get(f"{cluster.url(replica)}/healthz", timeout=10).json()["jobs"])


def launch_twelve(page) -> str:
    "Compare, as a person: 720p × (16:9, 9:16, 1:1) × (5 s, 4 s) × audio on and off; the grid's id."
    page.locator(".st-key-compare_prompt textarea").fill(PROMPT)
    pick(page, "compare_aspect_ratios", "1:1")
    pick(page, "compare_durations", "4 s")
    page.locator(".st-key-compare_audio").get_by_text("Both (compare on and off)").click()
    page.locator(".st-key-compare_summary", has_text=f"{CELLS} cells").wait_for()
    wait_for_app(page)
    page.locator(".st-key-compare_launch button").click()
    page.wait_for_url(re.compile(r"/compare\?grid=[0-9a-f]+$"), timeout=60_000)
    return page.url.rsplit("=", 1)[1]


def media_bytes(seaweed, cluster: Cluster, key: str) -> bytes:
    "A saved file's bytes, read straight from the shared S3 bucket."
    bucket, _, prefix = (cluster.media_url or "").removeprefix("s3://").partition("/")
    return bytes(seaweed.client().get_object(Bucket=bucket, Key=f"{prefix}/{key}")["Body"].read())


def check_tabs_play(page) -> None:
    "Every tab of the comparison: its three videos load at their size, and one of them plays."
    tabs = page.get_by_role("tab")
    assert tabs.count() == TABS, tabs.all_inner_texts()
    for n in range(TABS):
        tabs.nth(n).click()
        within = f".st-key-compare_player_wrap_{n}"
        page.wait_for_function(videos_ready(CELLS // TABS, within), timeout=60_000)
        video = page.locator(f"{within} video").first
        video.evaluate(PLAY)
        page.wait_for_function(PLAYED, arg=video.element_handle(), timeout=30_000)


def test_a_comparison_survives_losing_a_worker_and_a_replica(page, cluster, seaweed):
    try:
        scenario(page, cluster, seaweed)
    except BaseException:
        screenshot(page, "replicas-failed")
        print(cluster.logs())  # shown by pytest with the failure
        raise


def scenario(page, cluster: Cluster, seaweed) -> None:
    page.context.add_cookies([{"name": "SRV", "value": "a", "url": cluster.proxy}])  # pinned to replica A
    page.goto(f"{cluster.proxy}/compare")
    wait_for_app(page)
    grid_id = launch_twelve(page)
    screenshot(page, "replicas-launched-on-a")

    # Mid-way: some cells done (and shown on the page A serves), the rest in flight or queued.
    wait_until("a first cell done", lambda: 0 < job_counts(cluster, "b").get("done", 0) < CELLS, timeout=90)
    wait_for_app(page)
    cluster.processes["worker1"].kill()
    cluster.processes["a"].kill()
    done_at_kill = job_counts(cluster, "b").get("done", 0)
    assert done_at_kill < CELLS, "the comparison finished before the kill: nothing was tested"

    # The browser goes on through the proxy, which now sends it to B (and re-pins it there).
    page.get_by_test_id("stProgress").get_by_text(f"{CELLS} of {CELLS} cells done").wait_for(timeout=120_000)
    wait_for_app(page)
    assert {c["name"]: c["value"] for c in page.context.cookies()}.get("SRV") == "b"
    check_tabs_play(page)
    screenshot(page, "replicas-done-on-b")

    # Every cell exactly once: one run request per cell at Mosaic, one run each, no stray.
    stats = cluster.sim_stats()
    assert stats["requests"].get("run") == CELLS, stats
    assert stats["runs_total"] == CELLS and stats["runs_by_status"] == {"completed": CELLS}, stats
    store = HistoryStore(cluster.database_url)
    try:
        rows = store.query("SELECT * FROM generations WHERE grid_id = ?", [grid_id])
    finally:
        store.close()
    assert len(rows) == CELLS and {r["status"] for r in rows} == {"done"}, [(r["status"], r["error"]) for r in rows]
    assert len({r["run_id"] for r in rows}) == CELLS
    for row in rows:  # every file in the media store, as recorded
        assert hashlib.sha256(media_bytes(seaweed, cluster, row["video_path"])).hexdigest() == row["sha256"], row["id"]

    # A share link made on B, answered by either replica (A back with the same command).
    page.locator(".st-key-compare_share_popover button").first.click()
    page.locator(".st-key-compare_share_create button").click()
    code = page.locator("[data-testid='stCode']", has_text="/share/")
    code.wait_for(timeout=30_000)
    found = SHARE_URL.search(code.inner_text())
    assert found, code.inner_text()
    path = "/share/" + found.group(0).split("/share/", 1)[1]
    cluster.start_replica("a")
    cluster.wait_replica("a")
    for name in ("a", "b"):  # each replica's own port, not the proxy
        answer = httpx.get(cluster.url(name) + path, timeout=30)
        assert answer.status_code == 200 and PROMPT in answer.text, (name, answer.status_code)
        token = path.rsplit("/", 1)[1]
        videos = set(re.findall(rf"{re.escape(token)}/media/([0-9a-f]+)/video", answer.text))  # relative links
        assert videos == {r["id"] for r in rows}, name
        row = rows[CELLS // 2]
        part = httpx.get(
            f"{cluster.url(name)}{path}/media/{row['id']}/video",
            headers={"Range": "bytes=0-1023"},
            timeout=30,
            follow_redirects=True,
        )
        assert part.status_code == 206 and part.content == media_bytes(seaweed, cluster, row["video_path"])[:1024], name

    # No secret anywhere: the Mosaic key, the database password and the S3 secret are in no
    # process's log (every replica, worker, the simulator and the proxy), page or share page.
    secrets = {"Mosaic key": CLUSTER_KEY, "database password": DB_PASSWORD, "S3 secret": seaweed.secret_key}
    seen = {name: proc.log.read_text(errors="replace") for name, proc in cluster.processes.items()}
    seen["page"] = page.content()
    seen["share page"] = answer.text
    leaks = [(what, where) for what, secret in secrets.items() for where, text in seen.items() if secret in text]
    assert leaks == []
