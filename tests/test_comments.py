"""Comments pinned to a moment (issue 9 §3): the m019 migration from the previous schema with rows
in it, threads, pins, who may edit and delete, bad input, and what deleting a take or a comment does."""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.testclient import TestClient
from support import add_done

from studio import format as fmt
from studio import services as svc
from studio.errors import ParamsError
from studio.migrations import migrations
from studio.store import HistoryStore
from studio.web import make_routes


def body(studio, comment_id: str) -> str | None:
    found = svc.comment(studio, comment_id)
    return found.body if found else None


def test_m019_adds_comments_to_a_database_with_rows(tmp_path):
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m019_comments")
    db.execute(
        "INSERT INTO generations (id, created_at, prompt, status, duration_s) "
        "VALUES ('old1', '2026-01-01T00:00:00+00:00', 'an old neon street', 'done', 4.0)"
    )
    db.conn.commit()
    assert "comments" not in db.table_names()
    db.close()

    store = HistoryStore(path)
    assert migrations.pending(store.db) == []
    assert store.db["comments"].columns_dict == {
        "id": str,
        "gen_id": str,
        "parent_id": str,
        "author": str,
        "body": str,
        "at_s": float,
        "created_at": str,
        "edited_at": str,
    }
    indexed = {tuple(i.columns) for i in store.db.table("comments").indexes}
    assert {("gen_id",), ("parent_id",)} <= indexed
    old = store.get("old1")
    assert old is not None and old.prompt == "an old neon street"  # the old row is untouched
    # ... and can be commented on at once.
    store.db.execute(
        "INSERT INTO comments (id, gen_id, author, body, at_s, created_at) VALUES ('c1', 'old1', 'Ada', 'hi', 1.5, 'x')"
    )
    store.db.conn.commit()
    assert store.db.execute("SELECT count(*) FROM comments").fetchone()[0] == 1


def test_migrations_run_in_the_order_of_their_names():
    "The runner applies them in the order they are written: m018 (votes) must come before m019."
    names = [m.name for m in migrations._migrations]
    assert names == sorted(names)
    assert "m019_comments" in names


def test_clock_formats_moments():
    assert fmt.clock(3.24) == "0:03.2"
    assert fmt.clock(65) == "1:05.0"
    assert fmt.clock(59.96) == "1:00.0"
    assert fmt.clock(0) == "0:00.0"


@pytest.mark.usefixtures("backend")
def test_threads_replies_and_pins(idle):
    take = add_done(idle, "a red bicycle")  # 4.0 s long
    first = svc.add_comment(idle, take, "Ada", "  The wheel wobbles here  ", at_s=3.24)
    assert first.body == "The wheel wobbles here" and first.at_s == 3.24 and first.moment == "0:03.2"
    reply = svc.add_comment(idle, take, "Ben", "Agreed", parent_id=first.id)
    # A reply to a reply joins the same thread: threads are one level deep.
    deeper = svc.add_comment(idle, take, "Ada", "Fixed in the next take", parent_id=reply.id)
    assert reply.parent_id == first.id and deeper.parent_id == first.id
    other = svc.add_comment(idle, take, "Cy", "Lovely light", at_s=0.5)
    loose = svc.add_comment(idle, take, "Cy", "Not pinned")
    assert loose.at_s is None and loose.moment is None

    threads = svc.threads(idle, take)
    assert [t.id for t in threads] == [first.id, other.id, loose.id]
    assert [c.body for c in threads[0].comments] == ["The wheel wobbles here", "Agreed", "Fixed in the next take"]
    assert svc.comment_counts(idle, [take, "nothing"]) == {take: 5}
    pinned = svc.pinned_comments(idle, [take])
    assert [(c.at_s, c.author) for c in pinned] == [(0.5, "Cy"), (3.24, "Ada")]


@pytest.mark.usefixtures("backend")
def test_pinned_comments_keep_the_order_of_the_takes_given(idle):
    a, b = add_done(idle, "take a"), add_done(idle, "take b")
    svc.add_comment(idle, a, "Ada", "late in A", at_s=3.0)
    svc.add_comment(idle, b, "Ada", "early in B", at_s=1.0)
    assert [c.body for c in svc.pinned_comments(idle, [a, b])] == ["late in A", "early in B"]
    assert [c.body for c in svc.pinned_comments(idle, [b, a])] == ["early in B", "late in A"]
    assert svc.pinned_comments(idle, []) == []


def test_the_very_end_of_the_clip_can_be_pinned(idle):
    take = add_done(idle, "a red bicycle")
    assert svc.add_comment(idle, take, "Ada", "last frame", at_s=4.0).at_s == 4.0
    assert svc.add_comment(idle, take, "Ada", "first frame", at_s=0).at_s == 0.0


@pytest.mark.parametrize(
    "body,words",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("x" * (svc.MAX_COMMENT_CHARS + 1), f"at most {svc.MAX_COMMENT_CHARS} characters"),
    ],
)
def test_bad_bodies_are_refused(idle, body, words):
    take = add_done(idle, "a red bicycle")
    with pytest.raises(ParamsError, match=words):
        svc.add_comment(idle, take, "Ada", body)
    assert svc.comments(idle, take) == []
    assert svc.add_comment(idle, take, "Ada", "x" * svc.MAX_COMMENT_CHARS)  # the limit itself is fine


@pytest.mark.parametrize(
    "at_s,words",
    [
        (4.5, r"The clip is 0:04\.0 long: 0:04\.5 is past its end"),
        (-0.1, "before the start"),
        (math.nan, "a number of seconds"),
        ("3", "a number of seconds"),
    ],
)
def test_bad_moments_are_refused(idle, at_s, words):
    take = add_done(idle, "a red bicycle")
    with pytest.raises(ParamsError, match=words):
        svc.add_comment(idle, take, "Ada", "here", at_s=at_s)
    assert svc.comments(idle, take) == []


def test_a_take_without_a_video_takes_comments_but_no_pins(idle):
    (gen_id,) = svc.generate(idle, {"prompt": "still waiting"})  # the worker is off: it stays queued
    assert svc.add_comment(idle, gen_id, "Ada", "looking forward to it").at_s is None
    with pytest.raises(ParamsError, match="no finished video yet"):
        svc.add_comment(idle, gen_id, "Ada", "here", at_s=1.0)


@pytest.mark.usefixtures("backend")
def test_replies_to_missing_comments_and_comments_on_deleted_takes_are_refused(idle):
    take, other = add_done(idle, "a red bicycle"), add_done(idle, "a blue car")
    with pytest.raises(ParamsError, match="replying to no longer exists"):
        svc.add_comment(idle, take, "Ada", "hm", parent_id="nope")
    on_other = svc.add_comment(idle, other, "Ada", "on the car")
    with pytest.raises(ParamsError, match="replying to no longer exists"):  # a parent on another take
        svc.add_comment(idle, take, "Ada", "hm", parent_id=on_other.id)
    svc.delete_generation(idle, take)
    with pytest.raises(ParamsError, match="take no longer exists"):
        svc.add_comment(idle, take, "Ada", "too late")
    with pytest.raises(ParamsError, match="Say who you are"):
        svc.add_comment(idle, other, "  ", "anonymous")


@pytest.mark.usefixtures("backend")
def test_only_the_author_edits_or_deletes(idle):
    take = add_done(idle, "a red bicycle")
    mine = svc.add_comment(idle, take, "Ada", "first thought", at_s=1.0)
    with pytest.raises(ParamsError, match=r"Only Ada, who wrote this comment, can edit it \(you are Ben\)"):
        svc.edit_comment(idle, mine.id, "Ben", "hijacked")
    with pytest.raises(ParamsError, match="Only Ada, who wrote this comment, can delete it"):
        svc.delete_comment(idle, mine.id, "Ben")
    assert body(idle, mine.id) == "first thought"

    edited = svc.edit_comment(idle, mine.id, "Ada", "second thought")
    again = svc.comment(idle, mine.id)
    assert edited.edited_at and again is not None and again.body == "second thought"
    assert again.at_s == 1.0  # the pin stays
    with pytest.raises(ParamsError, match="empty"):
        svc.edit_comment(idle, mine.id, "Ada", " ")
    svc.delete_comment(idle, mine.id, "Ada")
    assert svc.comment(idle, mine.id) is None
    with pytest.raises(ParamsError, match="nothing to edit"):
        svc.edit_comment(idle, mine.id, "Ada", "back?")


def test_a_deleted_first_comment_leaves_its_replies_under_a_placeholder(idle):
    take = add_done(idle, "a red bicycle")
    first = svc.add_comment(idle, take, "Ada", "opening", at_s=2.0)
    reply = svc.add_comment(idle, take, "Ben", "a reply", parent_id=first.id)
    svc.delete_comment(idle, first.id, "Ada")
    threads = svc.threads(idle, take)
    orphan = next(t for t in threads if t.id == first.id)
    assert orphan.root is None and [c.id for c in orphan.replies] == [reply.id]
    with pytest.raises(ParamsError, match="replying to no longer exists"):
        svc.add_comment(idle, take, "Cy", "to the gone one", parent_id=first.id)
    # A reply to the surviving reply still joins that thread.
    assert svc.add_comment(idle, take, "Cy", "me too", parent_id=reply.id).parent_id == first.id


@pytest.mark.usefixtures("backend")
def test_deleting_a_take_deletes_its_comments_and_no_others(idle):
    gone, kept = add_done(idle, "a red bicycle"), add_done(idle, "a blue car")
    svc.add_comment(idle, gone, "Ada", "on the bike", at_s=1.0)
    keep = svc.add_comment(idle, kept, "Ada", "on the car", at_s=1.0)
    svc.add_comment(idle, kept, "Ben", "reply", parent_id=keep.id)
    svc.delete_generation(idle, gone)
    assert svc.comments(idle, gone) == []
    assert [c.body for c in svc.comments(idle, kept)] == ["on the car", "reply"]

    # The Gallery's bulk delete goes the same way.
    bulk = add_done(idle, "a green kite")
    svc.add_comment(idle, bulk, "Ada", "kite")
    svc.delete_many(idle, [bulk])
    assert svc.comments(idle, bulk) == [] and svc.comment_counts(idle, [kept]) == {kept: 2}


@pytest.mark.usefixtures("backend")
def test_threads_by_take_leaves_out_takes_without_comments(idle):
    a, b = add_done(idle, "take a"), add_done(idle, "take b")
    svc.add_comment(idle, a, "Ada", "on a")
    found = svc.threads_by_take(idle, [a, b])
    root = found[a][0].root
    assert list(found) == [a] and root is not None and root.body == "on a"


# ---------------------------------------------------------------------- read-only on share pages

EDIT_TAGS = re.compile(r"<\s*(form|input|button|select|textarea|script)\b", re.I)


@pytest.fixture
def comment_share(idle):
    "The studio's routes (share pages included) over TestClient."
    app = Starlette(routes=make_routes(idle.settings, services=lambda: idle))
    with TestClient(app) as client:
        yield client


def test_a_share_page_shows_comments_read_only_and_escaped(comment_share, idle):
    take, quiet = add_done(idle, "a red bicycle"), add_done(idle, "a blue car")
    first = svc.add_comment(idle, take, "Ada", 'Wobble </p><script>alert("x")</script> & more', at_s=3.24)
    svc.add_comment(idle, take, "Ben <b>", "Agreed", parent_id=first.id)
    gone = svc.add_comment(idle, take, "Cy", "to be deleted")
    svc.add_comment(idle, take, "Ada", "orphan reply", parent_id=gone.id)
    svc.delete_comment(idle, gone.id, "Cy")
    link = svc.ShareLinks(idle).create(svc.Selection("generation", take))
    html = comment_share.get(f"/share/{link.token}").text
    [section] = re.findall(r'<section class="comments">.*?</section>', html, re.S)
    assert not EDIT_TAGS.search(section) and "<b>" not in section  # read-only, and nothing typed is markup
    assert "<script>alert" not in html
    assert "Wobble &lt;/p&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html
    assert "<strong>Ada</strong>" in html and "at 0:03.2" in html and " UTC" in html
    assert "<strong>Ben &lt;b&gt;</strong>" in html and "Agreed" in html
    assert "comment deleted" in html and "orphan reply" in html and "to be deleted" not in html

    other = svc.ShareLinks(idle).create(svc.Selection("generation", quiet))
    assert 'class="comments"' not in comment_share.get(f"/share/{other.token}").text  # no comments, no section


def test_the_readme_states_the_comment_limit():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"over {svc.MAX_COMMENT_CHARS:,} characters" in readme


def test_an_absurd_pin_is_named_in_seconds(idle):
    take = add_done(idle, "a red bicycle")
    with pytest.raises(ParamsError, match=r"The clip is 0:04\.0 long: 1e\+100 s is past its end"):
        svc.add_comment(idle, take, "Ada", "here", at_s=1e100)
