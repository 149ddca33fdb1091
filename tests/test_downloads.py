"""Never save a broken or foreign video (issue 7 §2, and the download deadline of §3).

The client checks a transfer (storage host, same-host redirects only, Content-Length, size cap,
deadline, minimum rate) against `FakeApi` or a local `httpx.MockTransport` handler with a fake
clock; `media.verify` checks the bytes (every promised frame, the last ones decodable, the size and
length asked for); the job runner is driven end to end against the simulator's download faults.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes import FAKE_KEY, FakeApi
from support import settings_for

from studio import errors, media
from studio import services as svc
from studio.models import VideoGenerationParams
from studio.mosaic import DownloadLimits, MosaicClient

pytestmark = pytest.mark.usefixtures("clean_sim")  # every test starts with no faults scripted

STORAGE = "https://storage.mosaic.test"


# ---------------------------------------------------------------- a tiny storage host with a fake clock


class Clock:
    "A clock the test moves on; the client reads it for its deadline and rate."

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Pieces(httpx.SyncByteStream):
    "A body sent `piece` bytes at a time; each piece moves the clock `seconds` on."

    def __init__(self, total: int, piece: int, seconds: float, clock: Clock):
        self.total, self.piece, self.seconds, self.clock = total, piece, seconds, clock
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self.total:
            self.clock.now += self.seconds
            self.sent += self.piece
            yield b"v" * self.piece


def storage_client(body: Pieces, clock: Clock, headers: dict[str, str] | None = None) -> MosaicClient:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers or {}, stream=body)

    return MosaicClient(
        "https://api.mosaic.test",
        FAKE_KEY,
        transport=httpx.MockTransport(serve),
        storage_hosts=["storage.mosaic.test"],
        clock=clock,
        sleep=lambda s: None,
    )


# ---------------------------------------------------------------- the client: length, cap, time


def test_a_body_shorter_than_its_content_length_is_retried_then_refused(dl_api, dl_client, tmp_path):
    url = dl_api.add_file("short.mp4", b"x")
    dl_api.enqueue("GET", "/media/short.mp4", content=b"half", headers={"content-length": "100"}, times=4)
    dest = tmp_path / "short.mp4.part"
    with pytest.raises(errors.ApiConnectionError, match="ended after 4 of the 100 bytes its Content-Length promised"):
        dl_client.download(url, dest)
    assert not dest.exists()
    assert len(dl_api.calls("GET", "/media/short.mp4")) == 4  # the first try and three retries


def test_a_short_body_then_a_whole_one_keeps_the_whole_one(dl_api, dl_client, tmp_path):
    url = dl_api.add_file("again.mp4", b"the whole video")
    dl_api.enqueue("GET", "/media/again.mp4", content=b"the wh", headers={"content-length": "15"})
    dest = tmp_path / "again.mp4.part"
    assert dl_client.download(url, dest)[0] == 15
    assert dest.read_bytes() == b"the whole video"


def test_a_content_length_over_the_cap_is_refused_before_reading(tmp_path):
    clock = Clock()
    body = Pieces(total=10_000, piece=1000, seconds=0.0, clock=clock)
    with (
        storage_client(body, clock, {"content-length": str(5 * 1024**3)}) as client,
        pytest.raises(errors.ApiError, match=r"more than the 1\.0 KB cap \(STUDIO_DOWNLOAD_MAX_BYTES\)"),
    ):
        client.download(f"{STORAGE}/big.mp4", tmp_path / "big.part", DownloadLimits(max_bytes=1000))
    assert body.sent == 0, "not a byte was read"
    assert not (tmp_path / "big.part").exists()


def test_a_stream_that_passes_the_cap_is_cut(tmp_path):
    clock = Clock()
    body = Pieces(total=100_000, piece=1000, seconds=0.0, clock=clock)  # no Content-Length
    with storage_client(body, clock) as client, pytest.raises(errors.ApiError, match=r"passed the 5\.0 KB cap"):
        client.download(f"{STORAGE}/endless.mp4", tmp_path / "e.part", DownloadLimits(max_bytes=5000))
    assert body.sent <= 6000, "stopped at the cap, not at the end"
    assert not (tmp_path / "e.part").exists()


def test_a_trickle_is_abandoned_below_the_minimum_rate(tmp_path):
    clock = Clock()
    body = Pieces(total=50_000, piece=10, seconds=0.1, clock=clock)  # 100 B/s for 500 s
    limits = DownloadLimits(min_rate=1000, rate_window_s=2.0)
    with (
        storage_client(body, clock, {"content-length": "50000"}) as client,
        pytest.raises(errors.ApiError, match=r"too slow \(100 bytes/s over 2 s.*STUDIO_DOWNLOAD_MIN_RATE"),
    ):
        client.download(f"{STORAGE}/slow.mp4", tmp_path / "slow.part", limits)
    assert clock.now < 3, "abandoned after one window, not after 500 s"
    assert not (tmp_path / "slow.part").exists()


def test_a_download_past_its_deadline_is_abandoned_however_fast(tmp_path):
    clock = Clock()
    body = Pieces(total=10**9, piece=100_000, seconds=1.0, clock=clock)  # 100 KB/s: fast enough, too long
    limits = DownloadLimits(deadline_s=5.0, min_rate=1000, rate_window_s=1.0)
    with (
        storage_client(body, clock) as client,
        pytest.raises(errors.ApiError, match=r"did not finish within 5 s \(STUDIO_DOWNLOAD_DEADLINE\)"),
    ):
        client.download(f"{STORAGE}/long.mp4", tmp_path / "long.part", limits)
    assert clock.now <= 6


# ---------------------------------------------------------------- the client: hosts and redirects


def test_a_redirect_to_another_host_is_not_followed_and_nothing_reaches_it(dl_api, dl_client, tmp_path):
    url = dl_api.add_file("moved.mp4", b"x")
    dl_api.enqueue("GET", "/media/moved.mp4", 302, headers={"location": "https://evil.test/internal/page"}, times=9)
    with pytest.raises(errors.ApiError, match=r"redirected to another host \(evil\.test\); not followed"):
        dl_client.download(url, tmp_path / "moved.part")
    assert {r.host for r in dl_api.requests} == {"storage.mosaic.test"}
    assert not (tmp_path / "moved.part").exists()


def test_a_redirect_within_the_storage_host_is_followed_without_the_key(dl_api, dl_client, tmp_path):
    url = dl_api.add_file("old.mp4", b"x")
    dl_api.add_file("new.mp4", b"the video")
    dl_api.enqueue("GET", "/media/old.mp4", 307, headers={"location": "/media/new.mp4?X-Goog-Signature=def"})
    assert dl_client.download(url, tmp_path / "old.part")[0] == len(b"the video")
    assert [r.path for r in dl_api.requests] == ["/media/old.mp4", "/media/new.mp4"]
    assert all("authorization" not in r.headers for r in dl_api.requests)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam",  # a cloud metadata page
        "http://127.0.0.1:8501/_stcore/health",  # this machine, another port than the API's
        "https://localhost/files/other.mp4",
        "http://storage.mosaic.test/media/v.mp4",  # an allowed host, but not over https
        "https://evil.test/v.mp4",
        "https://storage.mosaic.test.evil.test/v.mp4",
        "file:///etc/passwd",
    ],
)
def test_a_video_url_off_the_storage_hosts_is_refused_without_a_request(dl_api, dl_client, tmp_path, url):
    with pytest.raises(errors.ApiError, match="STUDIO_STORAGE_HOSTS"):
        dl_client.download(url, tmp_path / "x.part")
    assert dl_api.requests == []
    assert not (tmp_path / "x.part").exists()


def test_a_storage_entry_with_a_scheme_allows_exactly_that_origin(tmp_path):
    api = FakeApi(storage_url="http://127.0.0.1:9000")
    api.files["/v.mp4"] = b"local"
    options = {"transport": api.transport(), "sleep": api.sleeps.append, "storage_hosts": ["http://127.0.0.1:9000"]}
    with MosaicClient(api.base_url, FAKE_KEY, **options) as client:
        assert client.download("http://127.0.0.1:9000/v.mp4", tmp_path / "v")[0] == 5
        for other in ("http://127.0.0.1:9001/v.mp4", "https://127.0.0.1:9000/v.mp4"):
            with pytest.raises(errors.ApiError, match="STUDIO_STORAGE_HOSTS"):
                client.download(other, tmp_path / "w")
    assert len(api.requests) == 1
    with pytest.raises(errors.SettingsError, match="STUDIO_STORAGE_HOSTS"):
        MosaicClient(api.base_url, FAKE_KEY, storage_hosts=["ftp://files.test"])


def test_signed_gcs_urls_are_allowed_by_default_and_get_no_key(tmp_path):
    api = FakeApi(storage_url="https://bucket.storage.googleapis.com")
    api.files["/v.mp4"] = b"gcs"
    with MosaicClient(api.base_url, FAKE_KEY, transport=api.transport(), sleep=api.sleeps.append) as client:
        assert client.download("https://bucket.storage.googleapis.com/v.mp4?X-Goog-Signature=1", tmp_path / "g")[0] == 3
    assert [r.host for r in api.requests] == ["bucket.storage.googleapis.com"]
    assert "authorization" not in api.requests[0].headers


@pytest.fixture
def dl_api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def dl_client(dl_api: FakeApi):
    with dl_api.client() as c:
        yield c


# ---------------------------------------------------------------- media.verify


@pytest.fixture(scope="module")
def a_take(tmp_path_factory) -> Path:
    "A 4 s 480p 16:9 take as Seedance makes it: 97 frames at 24 fps, header first (faststart)."
    path = tmp_path_factory.mktemp("take") / "take.mp4"
    media.render_clip(path, width=864, height=496, seconds=4, audio=True, text="A paper boat")
    return path


def test_a_whole_take_passes_with_its_size_and_length(a_take):
    facts = media.verify(a_take, sizes=media.take_sizes("480p", "16:9"), seconds=4)
    assert (facts.width, facts.height, facts.frames) == (864, 496, 97)
    assert media.verify(a_take, sizes=media.take_sizes("480p", "auto"), seconds=None).width == 864


def test_a_take_cut_short_is_refused_though_its_header_is_whole(a_take, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(a_take.read_bytes()[: int(a_take.stat().st_size * 0.4)])
    assert media.probe(cut).duration_s > 4, "the header still promises the whole take"
    with pytest.raises(errors.MediaError, match=r"cut short: only \d+ of the 97 frames") as info:
        media.verify(cut)
    assert not isinstance(info.value, errors.WrongVideoError)


def test_a_take_whose_last_frames_are_garbage_is_refused(a_take, tmp_path):
    data = bytearray(a_take.read_bytes())
    tail = int(len(data) * 0.75)
    data[tail:] = b"\x00" * (len(data) - tail)  # the length is right, the last frames are zeros
    broken = tmp_path / "zeroed.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(errors.MediaError, match=r"damaged|cut short"):
        media.verify(broken)


@pytest.mark.parametrize(
    ("resolution", "aspect", "seconds", "words"),
    [
        ("720p", "16:9", 4, "is 864×496, not the 1280×720"),
        ("480p", "1:1", 4, "not the 640×640"),
        ("720p", "auto", None, "is 864×496, not the"),
        ("480p", "16:9", 6, "lasts 4.0 s, not the 6 s"),
    ],
)
def test_another_take_is_a_wrong_video(a_take, resolution, aspect, seconds, words):
    with pytest.raises(errors.WrongVideoError, match=words):
        media.verify(a_take, sizes=media.take_sizes(resolution, aspect), seconds=seconds)


def test_a_file_without_video_has_no_frame(tmp_path):
    from media_files import tone

    with pytest.raises(errors.MediaError, match="no video frame"):
        media.verify(tone(tmp_path / "tone.m4a", 1))


# ---------------------------------------------------------------- the job runner against the simulator


def params(**kw) -> VideoGenerationParams:
    base = {
        "prompt": "A paper boat",
        "resolution": "480p",
        "aspect_ratio": "16:9",
        "duration": "4",
        "generate_audio": False,
    }
    return VideoGenerationParams(**{**base, **kw})


def generate(services, **kw):
    [gen_id] = svc.generate(services, params(**kw))
    [gen] = svc.wait_for(services, [gen_id], timeout=60)
    return gen


def left_in_media(services) -> list[str]:
    return sorted(p.name for p in services.settings.media_dir.iterdir())


@pytest.fixture
def quick(clean_sim, tmp_path):
    "A running studio whose downloads give up fast: 0.5 s windows at 20 KB/s, 8 s in all."
    settings = settings_for(
        clean_sim, tmp_path / "quick", download_min_rate=20_000, download_rate_window=0.5, download_deadline=8
    )
    services = svc.build_services(settings)
    yield services
    services.close()


def test_a_truncated_download_is_tried_again_and_the_whole_take_kept(studio, sim):
    sim.script_fault("truncated_video", "storage_download", 1)
    gen = generate(studio)
    assert gen.status == "done", gen.error
    facts = media.verify(studio.media_path(gen.video_path), sizes={(864, 496)}, seconds=4)
    assert facts.frames == 97 and gen.duration_s == pytest.approx(4.04, abs=0.05)
    assert sim.stats()["faults_injected"]["truncated_video"] == 1


def test_a_take_that_stays_truncated_fails_and_nothing_is_kept(studio, sim):
    sim.script_fault("truncated_video", "storage_download", 20)
    gen = generate(studio)
    assert gen.status == "failed" and gen.video_path is None
    assert "not playable (5 tries; deleted)" in gen.error and "cut short" in gen.error, gen.error
    assert left_in_media(studio) == []


def test_a_body_cut_off_before_its_content_length_is_retried(studio, sim):
    sim.script_fault("short_body", "storage_download", 2)
    gen = generate(studio)
    assert gen.status == "done", gen.error
    assert media.verify(studio.media_path(gen.video_path)).frames == 97


def test_a_trickle_is_abandoned_and_the_job_fails_naming_it(quick, sim):
    sim.script_fault("trickle", "storage_download", 20)
    started = time.monotonic()
    gen = generate(quick)
    assert gen.status == "failed", gen.error
    assert "too slow" in gen.error and "STUDIO_DOWNLOAD_MIN_RATE" in gen.error, gen.error
    assert time.monotonic() - started < 30
    assert left_in_media(quick) == []


def test_the_download_deadline_covers_every_attempt(clean_sim, tmp_path):
    settings = settings_for(clean_sim, tmp_path / "slow", download_min_rate=0, download_deadline=2)
    services = svc.build_services(settings)
    try:
        clean_sim.script_fault("trickle", "storage_download", 20)
        gen = generate(services)
    finally:
        services.close()
    assert gen.status == "failed"
    assert "within 2 s (STUDIO_DOWNLOAD_DEADLINE)" in gen.error, gen.error


def test_a_redirect_to_another_host_fails_the_take_without_following_it(studio, sim):
    before = sim.stats()["requests"].get("storage_download", 0)
    sim.script_fault("redirect_foreign", "storage_download", 20)
    gen = generate(studio)
    assert gen.status == "failed"
    assert "redirected to another host (localhost); not followed" in gen.error, gen.error
    # One request per attempt: none went on to the other host name.
    assert sim.stats()["requests"]["storage_download"] - before == 5
    assert left_in_media(studio) == []


def test_a_completed_run_without_a_video_says_so(studio, sim):
    sim.script_fault("no_outputs", "run", 1)
    gen = generate(studio)
    assert gen.status == "failed"
    assert gen.error == "Mosaic says the run completed but returned no video for this node"


def test_a_video_of_another_size_fails_the_take_and_is_not_kept(studio, sim):
    sim.script_fault("wrong_size", "run", 1)
    gen = generate(studio, resolution="720p", aspect_ratio="16:9")
    assert gen.status == "failed" and gen.video_path is None
    assert gen.error.startswith("Mosaic sent a video that is not this take:"), gen.error
    assert "is 640×640, not the 1280×720" in gen.error
    assert left_in_media(studio) == []


def test_download_faults_are_scriptable_over_http(sim):
    with httpx.Client(base_url=sim.base_url, timeout=10) as http:
        kinds = ["short_body", "truncated_video", "trickle", "redirect_foreign", "no_outputs", "wrong_size"]
        answer = http.post("/_sim/faults", json={"reset": True, "script": [{"kind": k} for k in kinds]})
        assert answer.status_code == 200, answer.text
        routes = {s["kind"]: s["route"] for s in answer.json()["scripted"]}
        http.post("/_sim/faults", json={"reset": True})
    assert routes == {k: ("run" if k in ("no_outputs", "wrong_size") else "storage_download") for k in kinds}
