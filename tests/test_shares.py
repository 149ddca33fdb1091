"""Read-only share links: the tokens (unguessable, only their hash stored), expiry, revoke and
regenerate, and the `/share/<token>` page and its media served through Starlette's TestClient:
404 and 410 pages, media only through the token, no edit control, prompts escaped, deleted takes
gone, and no byte of the API key anywhere."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from media_files import clip, picture
from starlette.applications import Starlette
from starlette.testclient import TestClient
from support import settings_for, use_sim_env

from studio import cli, player
from studio import services as svc
from studio.errors import ParamsError, ShareLinkError, StoreError
from studio.models import VideoGenerationParams
from studio.services.shares import TOKEN_PATTERN, expires_at, token_hash, token_of
from studio.share_page import HEADERS
from studio.web import make_routes

SECRET_KEY = "mk_share_test_key_9f3e2a71"
START = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
EDIT_TAGS = re.compile(r"<\s*(form|input|button|select|textarea)\b", re.I)
# The one script a share page runs: the review player's bootstrap, from the studio itself.
PLAYER_SCRIPT = '<script type="module" src="/player/share_boot.js"></script>'


def player_data(html: str) -> list[dict]:
    "The review players' data on a share page (the JSON in each data-player attribute)."
    return [json.loads(unescape(m)) for m in re.findall(r"data-player='([^']*)'", html)]


class Clock:
    "A clock the test moves by hand."

    def __init__(self, at: datetime = START):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def shop(clean_sim, tmp_path, database_url):
    "A studio (worker off) whose API key is a known string, so its absence can be checked byte by byte."
    settings = settings_for(clean_sim, tmp_path / "data", api_key=SECRET_KEY, author="Ana", database_url=database_url)
    services = svc.build_services(settings, start_worker=False)
    yield services
    services.close()


def add_done(studio, prompt: str, *, grid_id: str | None = None, label: str | None = None, **params) -> str:
    "A finished take with a real (tiny) video and thumbnail in the media folder."
    gen_id = studio.store.add_generation(
        VideoGenerationParams(prompt=prompt, **params), grid_id=grid_id, cell_label=label, author="Ana"
    )
    media = Path(studio.settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    clip(media / f"{gen_id}.mp4", seconds=1)
    picture(media / f"{gen_id}.jpg", 64, 36)
    studio.store.update(
        gen_id,
        status="done",
        video_path=f"{gen_id}.mp4",
        thumb_path=f"{gen_id}.jpg",
        width=1280,
        height=720,
        duration_s=1.0,
        has_audio=0,
        file_size=(media / f"{gen_id}.mp4").stat().st_size,
    )
    return gen_id


def add_grid(studio, prompt: str = "A paper boat on a rainy street") -> tuple[str, list[str]]:
    "A finished 2 × 2 comparison (480p and 720p by 16:9 and 9:16)."
    cells = [
        (VideoGenerationParams(prompt=prompt, resolution=r, aspect_ratio=a, duration="4"), f"{r} · {a}")
        for a in ("16:9", "9:16")
        for r in ("480p", "720p")
    ]
    grid_id, ids = studio.store.add_grid(prompt=prompt, axes={}, cells=cells, author="Ana", name="Boat formats")
    media = Path(studio.settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    for gen_id in ids:
        clip(media / f"{gen_id}.mp4", seconds=1)
        picture(media / f"{gen_id}.jpg", 64, 36)
        studio.store.update(gen_id, status="done", video_path=f"{gen_id}.mp4", thumb_path=f"{gen_id}.jpg")
    return grid_id, ids


@pytest.fixture
def share_web(shop):
    "The studio's routes (share pages included) over TestClient, with a clock the test moves."
    clock = Clock()
    app = Starlette(routes=make_routes(shop.settings, services=lambda: shop, share_now=clock))
    with TestClient(app) as client:
        yield client, svc.ShareLinks(shop, now=clock), clock


# ---------------------------------------------------------------------- tokens and storage


def test_a_token_has_256_random_bits_and_only_its_hash_is_stored(shop):
    links = svc.ShareLinks(shop)
    gen_id = add_done(shop, "A red fox in fresh snow")
    made = [links.create(svc.Selection("generation", gen_id), created_by="Ana") for _ in range(20)]
    tokens = [m.token for m in made]
    assert len(set(tokens)) == 20 and all(TOKEN_PATTERN.fullmatch(t) for t in tokens)  # 43 chars × 6 bits ≥ 256
    with closing(sqlite3.connect(shop.settings.db_path)) as db:
        dump = "\n".join(db.iterdump())
        stored = {r[0] for r in db.execute("SELECT token_hash FROM share_links")}
    assert not [t for t in tokens if t in dump]  # no token, in any column or table
    assert stored == {token_hash(t) for t in tokens}
    assert made[0].link.hint == tokens[0][-4:] and made[0].link.created_by == "Ana"


def test_the_link_is_the_base_url_plus_share_and_the_token(shop):
    new = svc.ShareLinks(shop).create(svc.Selection("generation", add_done(shop, "A fox")))
    assert new.url("https://studio.example.com/") == f"https://studio.example.com/share/{new.token}"
    assert token_of(new.url("https://studio.example.com")) == new.token
    assert token_of(f" {new.url('http://x:8501/team')}/ ") == new.token
    assert token_of(new.token) == new.token


@pytest.mark.parametrize(
    ("expiry", "until"),
    [
        ("never", None),
        (None, None),
        ("1d", START + timedelta(days=1)),
        ("7d", START + timedelta(days=7)),
        ("30d", START + timedelta(days=30)),
        ("2026-12-02", datetime(2026, 12, 3, tzinfo=UTC)),  # today: through the end of the UTC day
        ("2027-01-15", datetime(2027, 1, 16, tzinfo=UTC)),
        (date(2027, 1, 15), datetime(2027, 1, 16, tzinfo=UTC)),
    ],
)
def test_expiry_choices(expiry, until):
    assert expires_at(expiry, START) == until


@pytest.mark.parametrize("expiry", ["2d", "tomorrow", "2026-12-01", "2026-13-01", "", "7", "2040-01-01", 7])
def test_a_bad_expiry_is_refused_in_words(expiry):
    with pytest.raises(ParamsError) as caught:
        expires_at(expiry, START)
    assert caught.value.field == "expires" and str(caught.value)


@pytest.mark.usefixtures("backend")
def test_a_link_expires_at_its_time_and_says_so(share_web, shop):
    client, links, clock = share_web
    new = links.create(svc.Selection("generation", add_done(shop, "A fox")), expires="1d")
    assert client.get(f"/share/{new.token}").status_code == 200
    clock.at = START + timedelta(days=1) - timedelta(seconds=1)
    assert client.get(f"/share/{new.token}").status_code == 200
    clock.at = START + timedelta(days=1)
    page = client.get(f"/share/{new.token}")
    assert page.status_code == 410 and "expired on 2026-12-03 15:30 UTC" in page.text
    assert "A fox" not in page.text
    assert links.get(new.link.id).state(clock.at) == "expired"


def test_a_date_expiry_lasts_through_that_utc_day(share_web, shop):
    client, links, clock = share_web
    new = links.create(svc.Selection("generation", add_done(shop, "A fox")), expires="2026-12-05")
    clock.at = datetime(2026, 12, 5, 23, 59, 59, tzinfo=UTC)
    assert client.get(f"/share/{new.token}").status_code == 200
    clock.at = datetime(2026, 12, 6, tzinfo=UTC)
    assert client.get(f"/share/{new.token}").status_code == 410


@pytest.mark.usefixtures("backend")
def test_listing_is_newest_first_by_selection_or_person(shop):
    links = svc.ShareLinks(shop)
    fox, owl = add_done(shop, "A fox"), add_done(shop, "An owl")
    a = links.create(svc.Selection("generation", fox), created_by="Ana")
    b = links.create(svc.Selection("generation", owl), created_by="Ben")
    c = links.create(svc.Selection("generation", fox), created_by="Ben")
    assert [x.id for x in links.list()] == [c.link.id, b.link.id, a.link.id]
    assert [x.id for x in links.list(selection=svc.Selection("generation", fox))] == [c.link.id, a.link.id]
    assert [x.id for x in links.list(created_by="Ben")] == [c.link.id, b.link.id]


@pytest.mark.usefixtures("backend")
def test_a_deleted_or_unknown_selection_cannot_be_shared(shop):
    links = svc.ShareLinks(shop)
    for selection in (svc.Selection("collection", "nope"), svc.Selection("grid", "nope")):
        with pytest.raises(ParamsError):
            links.create(selection)
    with pytest.raises(ParamsError):
        links.create(svc.Selection("query", "{not json"))
    with pytest.raises(ParamsError):
        links.create("everything")  # type: ignore[arg-type]
    assert links.list() == []


# ---------------------------------------------------------------------- 404 and 410 pages


@pytest.mark.parametrize("token", ["x", "a" * 43, "not-a-token-at-all", "%3Cscript%3E", "a" * 200])
def test_an_unknown_token_is_a_clear_404_page(share_web, token):
    client, _, _ = share_web
    page = client.get(f"/share/{token}")
    assert page.status_code == 404 and "This share link does not exist" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text


@pytest.mark.usefixtures("backend")
def test_a_revoked_link_is_a_clear_410_page_never_the_content(share_web, shop):
    client, links, clock = share_web
    gen_id = add_done(shop, "A glass whale over the city")
    new = links.create(svc.Selection("generation", gen_id))
    assert client.get(f"/share/{new.token}/media/{gen_id}/video").status_code == 200
    clock.at = START + timedelta(hours=2)
    links.revoke(new.link.id)
    page = client.get(f"/share/{new.token}")
    assert page.status_code == 410
    assert "This share link no longer works" in page.text and "revoked on 2026-12-02 17:30 UTC" in page.text
    assert "glass whale" not in page.text and gen_id not in page.text
    assert client.get(f"/share/{new.token}/media/{gen_id}/video").status_code == 410
    assert links.revoke(new.link.id).revoked_at  # revoking twice is not an error
    for header, value in HEADERS.items():
        assert page.headers[header] == value


@pytest.mark.usefixtures("backend")
def test_regenerate_gives_a_new_token_and_kills_the_old_one(share_web, shop):
    client, links, _ = share_web
    gen_id = add_done(shop, "A lighthouse")
    old = links.create(svc.Selection("generation", gen_id), expires="7d", allow_download=False, created_by="Ana")
    new = links.regenerate(old.link.id)
    assert new.token != old.token and new.link.id != old.link.id
    assert (new.link.expires_at, new.link.allow_download, new.link.selection) == (
        old.link.expires_at,
        False,
        old.link.selection,
    )
    assert client.get(f"/share/{old.token}").status_code == 410
    assert client.get(f"/share/{new.token}").status_code == 200
    with pytest.raises(ShareLinkError) as caught:
        links.regenerate(old.link.id)
    assert caught.value.status == 410


def test_a_deleted_collection_or_comparison_leaves_a_410_page(share_web, shop):
    client, links, _ = share_web
    coll = svc.create_collection(shop, "Picks", owner="Ana")
    svc.add_to_collection(shop, coll.id, [add_done(shop, "A fox")])
    new = links.create(svc.Selection("collection", coll.id))
    assert client.get(f"/share/{new.token}").status_code == 200
    svc.delete_collection(shop, coll.id)
    page = client.get(f"/share/{new.token}")
    assert page.status_code == 410 and "The collection this link shared was deleted" in page.text


# ---------------------------------------------------------------------- the page


@pytest.mark.usefixtures("backend")
def test_the_page_shows_every_item_read_only(share_web, shop):
    client, links, _ = share_web
    fox = add_done(shop, "A red fox in fresh snow", resolution="720p", aspect_ratio="16:9")
    owl = add_done(shop, "An owl at dusk", resolution="480p", aspect_ratio="9:16")
    shop.store.update(owl, width=496, height=864)
    coll = svc.create_collection(shop, "Client picks", description="For the launch cut", owner="Ana")
    svc.add_to_collection(shop, coll.id, [fox, owl], added_by="Ben")
    new = links.create(svc.Selection("collection", coll.id), allow_download=False)
    page = client.get(f"/share/{new.token}")
    assert page.status_code == 200
    html = page.text
    assert "Client picks" in html and "For the launch cut" in html and "2 takes" in html
    assert "A red fox in fresh snow" in html and "An owl at dusk" in html
    assert html.index("A red fox") < html.index("An owl")  # the collection's order
    [together] = player_data(html)  # both play in one review player, in the collection's order
    assert [(c["id"], c["url"], c["poster"]) for c in together["clips"]] == [
        (gen_id, f"{new.token}/media/{gen_id}/video", f"{new.token}/media/{gen_id}/thumb") for gen_id in (fox, owl)
    ]
    assert [(c["width"], c["height"]) for c in together["clips"]] == [(1280, 720), (496, 864)]  # real shapes
    assert [c["label"] for c in together["clips"]] == [
        "720p · 16:9 · auto length · audio",
        "480p · 9:16 · auto length · audio",
    ]
    assert together["download"] is False and "<video" not in html  # no second copy of each video
    assert "720p · 16:9 · auto length · audio" in html and "480p · 9:16 · auto length · audio" in html
    assert "Ana" in html and "Ben" in html  # author, and who added it
    assert not EDIT_TAGS.search(html)  # no form, input, button, select or textarea in the page
    assert re.findall(r"<script[^>]*>.*?</script>", html, re.S) == [PLAYER_SCRIPT]  # the player's, no inline one
    assert "/download" not in html  # downloads not allowed
    for header, value in HEADERS.items():
        assert page.headers[header] == value
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]  # only the studio's own files run
    boot = client.get("/player/share_boot.js")
    assert boot.status_code == 200 and boot.headers["content-type"].startswith("text/javascript")
    assert 'import syncPlayer from "./sync_player.js"' in boot.text
    module = client.get("/player/sync_player.js")
    assert (
        module.status_code == 200
        and module.text == (Path(player.__file__).parent / "player/sync_player.js").read_text()
    )
    assert client.get("/player/other.js").status_code == 404
    assert page.headers["Referrer-Policy"] == "no-referrer" and "noindex" in page.headers["X-Robots-Tag"]
    assert page.headers["Cache-Control"].startswith("private")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    head = client.head(f"/share/{new.token}")
    assert head.status_code == 200 and head.content == b""


def test_a_comparison_keeps_its_grid_layout_and_labels(share_web, shop):
    client, links, _ = share_web
    grid_id, ids = add_grid(shop)
    shop.store.set_winner(grid_id, ids[3])
    html = client.get(f"/share/{links.create(svc.Selection('grid', grid_id)).token}").text
    assert '<table class="grid">' in html
    head = re.search(r"<thead>(.*?)</thead>", html, re.S)
    assert head and re.findall(r'<th scope="col">([^<]*)</th>', head.group(1)) == ["", "480p", "720p"]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', html, re.S)
    assert [r[0] for r in rows] == ["16:9", "9:16"]
    # cells sit where their settings say: row 16:9 holds 480p then 720p, and so on
    for (ratio, row), row_ids in zip(rows, (ids[:2], ids[2:]), strict=True):
        assert re.findall(r'id="take-([0-9a-f]+)"', row) == row_ids, ratio
    assert html.count("Winner") == 1 and "Boat formats" in html
    assert html.count("A paper boat on a rainy street") == 1  # one prompt for the whole comparison
    assert not EDIT_TAGS.search(html)
    [grid_player] = player_data(html)  # the cells play together, rows of ratios by resolution
    assert [c["id"] for c in grid_player["clips"]] == ids
    assert [c["label"] for c in grid_player["clips"]] == ["480p · 16:9", "720p · 16:9", "480p · 9:16", "720p · 9:16"]


def test_the_prompt_is_escaped_text(share_web, shop):
    client, links, _ = share_web
    nasty = 'A fox </p><script>alert("x")</script><img src=x onerror=alert(1)> & "friends"'
    new = links.create(svc.Selection("generation", add_done(shop, nasty)))
    html = client.get(f"/share/{new.token}").text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "&amp; &#34;friends&#34;" in html


@pytest.mark.usefixtures("backend")
def test_a_shared_search_shows_what_matches_now(share_web, shop):
    client, links, _ = share_web
    fox = add_done(shop, "A red fox in the snow")
    add_done(shop, "An owl at dusk")
    new = links.create(svc.Selection.of_query(svc.GalleryQuery(text="fox")))
    html = client.get(f"/share/{new.token}").text
    assert "Gallery search: “fox”" in html and "red fox" in html and "owl" not in html
    later = add_done(shop, "A fox cub")
    assert "fox cub" in client.get(f"/share/{new.token}").text
    for gen_id in (fox, later):
        assert client.get(f"/share/{new.token}/media/{gen_id}/thumb").status_code == 200


def test_a_deleted_take_disappears_from_the_page_and_its_media(share_web, shop):
    client, links, _ = share_web
    grid_id, ids = add_grid(shop)
    new = links.create(svc.Selection("grid", grid_id))
    assert client.get(f"/share/{new.token}/media/{ids[0]}/video").status_code == 200
    svc.delete_generation(shop, ids[0])
    html = client.get(f"/share/{new.token}").text
    assert ids[0] not in html and "3 takes" in html and ids[1] in html
    assert client.get(f"/share/{new.token}/media/{ids[0]}/video").status_code == 404
    one = links.create(svc.Selection("generation", ids[1]))
    svc.delete_generation(shop, ids[1])
    page = client.get(f"/share/{one.token}")
    assert page.status_code == 410 and "deleted" in page.text


# ---------------------------------------------------------------------- media only through the token


def test_media_is_served_only_for_the_takes_the_link_shares(share_web, shop):
    client, links, _ = share_web
    shared, other = add_done(shop, "A fox"), add_done(shop, "A private owl")
    new = links.create(svc.Selection("generation", shared))
    video = client.get(f"/share/{new.token}/media/{shared}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content == (Path(shop.settings.media_dir) / f"{shared}.mp4").read_bytes()
    assert client.get(f"/share/{new.token}/media/{shared}/thumb").headers["content-type"] == "image/jpeg"
    part = client.get(f"/share/{new.token}/media/{shared}/video", headers={"Range": "bytes=0-99"})
    assert (
        part.status_code == 206 and len(part.content) == 100 and part.headers["content-range"].startswith("bytes 0-99/")
    )
    for bad in (
        f"/share/{new.token}/media/{other}/video",  # exists in the studio, not in this link
        f"/share/{new.token}/media/{other}/thumb",
        f"/share/{new.token}/media/nope/video",
        f"/share/{new.token}/media/{shared}/notes",
        f"/share/{new.token}/media/{shared}/..%2F{other}.mp4",
        f"/share/{'a' * 43}/media/{shared}/video",  # the right take, a wrong token
    ):
        answer = client.get(bad)
        assert answer.status_code == 404, bad
        assert b"ftyp" not in answer.content


def test_downloads_only_when_the_link_allows_them(share_web, shop):
    client, links, _ = share_web
    gen_id = add_done(shop, "A fox", resolution="720p", aspect_ratio="16:9")
    allowed = links.create(svc.Selection("generation", gen_id), allow_download=True)
    html = client.get(f"/share/{allowed.token}").text
    assert f'href="{allowed.token}/media/{gen_id}/download"' in html
    got = client.get(f"/share/{allowed.token}/media/{gen_id}/download")
    assert got.status_code == 200
    assert got.headers["content-disposition"] == f'attachment; filename="{gen_id}-720p-16x9.mp4"'
    assert player_data(html)[0]["download"] is True
    closed = links.create(svc.Selection("generation", gen_id), allow_download=False)
    assert player_data(client.get(f"/share/{closed.token}").text)[0]["download"] is False  # nor the player's menu
    assert client.get(f"/share/{closed.token}/media/{gen_id}/download").status_code == 404
    assert client.get(f"/share/{closed.token}/media/{gen_id}/video").status_code == 200  # still plays


def test_the_api_key_is_in_no_byte_of_a_page_or_its_media(share_web, shop):
    client, links, _ = share_web
    assert shop.settings.api_key is not None and shop.settings.api_key.get_secret_value() == SECRET_KEY
    grid_id, ids = add_grid(shop)
    new = links.create(svc.Selection("grid", grid_id), allow_download=True)
    answers = [client.get(f"/share/{new.token}")]
    for gen_id in ids:
        answers += [client.get(f"/share/{new.token}/media/{gen_id}/{what}") for what in ("video", "thumb", "download")]
    answers += [client.get(f"/share/{'b' * 43}"), client.get(f"/share/{new.token}/media/nope/video")]
    links.revoke(new.link.id)
    answers.append(client.get(f"/share/{new.token}"))
    assert {a.status_code for a in answers} == {200, 404, 410}
    for answer in answers:
        raw = answer.content + b"".join(f"{k}: {v}".encode() for k, v in answer.headers.items())
        assert SECRET_KEY.encode() not in raw and b"mk_" not in raw


def test_with_settings_the_studio_cannot_use_a_share_link_answers_503_not_streamlits_page():
    from studio import web
    from studio.errors import SettingsError

    def bad():
        raise SettingsError("Invalid settings: STUDIO_TIMEOUT (timeout): must be finite")

    parts = web.app_parts(bad)
    with TestClient(Starlette(routes=parts["routes"])) as client:
        answer = client.get(f"/share/{'a' * 43}")
    assert answer.status_code == 503 and "STUDIO_TIMEOUT" in answer.json()["error"]


# ---------------------------------------------------------------------- the schema


def test_m016_adds_share_links_to_a_m015_database_with_rows(tmp_path):
    from sqlite_utils import Database

    from studio.migrations import migrations
    from studio.store import HistoryStore

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m016_share_links")
    db.execute(
        "INSERT INTO generations (id, created_at, prompt, status) VALUES ('g1', '2026-11-01T00:00', 'a fox', 'done')"
    )
    db.execute(
        "INSERT INTO collections (id, created_at, updated_at, owner, name) VALUES ('c1', 'x', 'x', 'Ana', 'Picks')"
    )
    db.execute("INSERT INTO collection_items (collection_id, generation_id, position) VALUES ('c1', 'g1', 0)")
    db.conn.commit()
    assert "share_links" not in db.table_names()
    db.close()

    store = HistoryStore(path)
    assert migrations.pending(store.db) == []
    assert set(store.db.table("share_links").columns_dict) == {
        "id", "token_hash", "hint", "kind", "ref", "created_by", "created_at", "expires_at", "allow_download",
        "revoked_at",
    }  # fmt: skip
    assert [g.id for g in store.collection_items("c1")] == ["g1"]  # the old rows are all there
    indexes = {tuple(i.columns): i.unique for i in store.db.table("share_links").indexes}
    assert indexes[("token_hash",)]
    row = dict(
        id="l1", token_hash="h", hint="abcd", kind="collection", ref="c1", created_at="2026-12-02T00:00:00+00:00"
    )
    assert store.add_share_link(row)
    with pytest.raises(StoreError):  # a token hash is unique
        store.add_share_link({**row, "id": "l2"})
    assert store.share_link(token_hash="h") == {
        **row, "created_by": "", "expires_at": None, "allow_download": 1, "revoked_at": None
    }  # fmt: skip


# ---------------------------------------------------------------------- studio share


def test_studio_share_prints_the_link_then_json_and_revokes_it(clean_sim, tmp_path, monkeypatch, capsys):
    data = tmp_path / "cli"
    made = svc.build_services(settings_for(clean_sim, data), start_worker=False)
    grid_id, _ = add_grid(made)
    made.close()
    use_sim_env(monkeypatch, clean_sim)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    monkeypatch.setenv("STUDIO_SHARE_URL", "https://studio.example.com/team/")
    monkeypatch.setenv("STUDIO_AUTHOR", "Ana")

    assert cli.main(["share", "--grid", grid_id, "--expires", "7d", "--no-download"]) == 0
    out = capsys.readouterr().out.splitlines()
    url, facts = out[0], json.loads(out[-1])
    assert len(out) == 2 and re.fullmatch(r"https://studio\.example\.com/team/share/[A-Za-z0-9_-]{43}", url)
    assert facts["url"] == url and facts["kind"] == "grid" and facts["ref"] == grid_id
    assert facts["allow_download"] is False and facts["expires_at"] and facts["state"] == "live"
    assert facts["created_by"] == "Ana" and facts["hint"] == url[-4:]

    studio = svc.build_services(settings_for(clean_sim, data), start_worker=False)
    try:
        app = Starlette(routes=make_routes(studio.settings, services=lambda: studio))
        with TestClient(app) as client:
            token = url.rsplit("/", 1)[1]
            assert client.get(f"/share/{token}").status_code == 200
            assert cli.main(["share", "--list"]) == 0
            listed = capsys.readouterr().out.splitlines()
            assert [x["id"] for x in json.loads(listed[-1])] == [facts["id"]] and "no downloads" in listed[0]
            assert cli.main(["share", "--revoke", url]) == 0
            revoked = json.loads(capsys.readouterr().out.splitlines()[-1])
            assert revoked["state"] == "revoked" and revoked["id"] == facts["id"]
            assert client.get(f"/share/{token}").status_code == 410
            assert cli.main(["share", "--revoke", token]) == 0  # again: not an error, it stays revoked
            assert cli.main(["share", "--query", "paper boat"]) == 0
            query_url = capsys.readouterr().out.splitlines()[-2]
            assert "A paper boat" in client.get(f"/share/{query_url.rsplit('/', 1)[1]}").text
    finally:
        studio.close()


def test_studio_share_without_a_share_url_says_which_address_it_used(clean_sim, tmp_path, monkeypatch, capsys):
    data = tmp_path / "cli"
    made = svc.build_services(settings_for(clean_sim, data), start_worker=False)
    gen_id = add_done(made, "A fox")
    made.close()
    use_sim_env(monkeypatch, clean_sim)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    assert cli.main(["share", "--generation", gen_id]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("http://localhost:8501/share/") and "STUDIO_SHARE_URL" in err


def test_pinned_comments_are_markers_on_the_share_pages_player(share_web, shop):
    client, links, _ = share_web
    take = add_done(shop, "A fox", resolution="720p", aspect_ratio="16:9")
    first = svc.add_comment(shop, take, "Ada", 'Too dark <script>alert("x")</script>', at_s=0.5)
    svc.add_comment(shop, take, "Ben", "Agreed", parent_id=first.id)  # not pinned: no marker
    svc.add_comment(shop, take, "Cy", "The cut", at_s=0.25)
    html = client.get(f"/share/{links.create(svc.Selection('generation', take)).token}").text
    [shown] = player_data(html)
    assert shown["markers"] == [
        {"at": 0.25, "label": "Cy: The cut", "gen_id": take},
        {"at": 0.5, "label": 'Ada: Too dark <script>alert("x")</script>', "gen_id": take},
    ]
    assert "<script>alert" not in html  # the JSON in the attribute is escaped
    assert shown["markable"] is False  # read-only: no "Mark", a marked moment would go nowhere
