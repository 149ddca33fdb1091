"""The review player's Python half: which takes become cells, what the browser half is given
(clips by URL, labels, markers, a seek from Python), and `ui.review_player` on a page. The browser
half's alignment is tested in Chromium (tests/e2e/test_player.py)."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from studio import player
from studio.models import Generation
from studio.player import Marker


def gen(gen_id: str, status: str = "done", **fields) -> Generation:
    base: dict[str, object] = dict(id=gen_id, created_at="2026-12-02T10:00:00", prompt="A fox", status=status)
    if status == "done":
        base.update(video_path=f"{gen_id}.mp4", thumb_path=f"{gen_id}.jpg", width=864, height=496, duration_s=4.0)
    return Generation(**{**base, **fields})


def url_of(name: str) -> str:
    return f"http://studio.test/files/{name}"


def test_only_finished_takes_with_a_video_become_cells_named_by_their_labels():
    takes = [gen("a"), gen("b", "running"), gen("c", "failed"), gen("d", resolution="1080p", aspect_ratio="9:16")]
    clips = player.clips_for(takes, url_of, ["A", "B", "C", "D"])
    assert [c.id for c in clips] == ["a", "d"]
    assert [c.label for c in clips] == ["A", "D"]  # labels[i] names gens[i], skipped ones included
    assert clips[0].url == "http://studio.test/files/a.mp4" and clips[0].poster == "http://studio.test/files/a.jpg"
    assert (clips[0].width, clips[0].height, clips[0].duration_s) == (864, 496, 4.0)
    # Without labels, a cell is named by its settings.
    assert player.clips_for([gen("e", resolution="480p", aspect_ratio="1:1")], url_of)[0].label.startswith("480p · 1:1")


def test_the_data_carries_markers_in_time_order_and_only_for_takes_in_the_player():
    clips = player.clips_for([gen("a"), gen("b")], url_of)
    markers = [Marker(3.5, "too dark", "b"), Marker(1.25, "cut here"), Marker(2.0, "elsewhere", "zzz")]
    data = player.player_data(clips, key="k", markers=markers, seek_to=1.25, seek_seq=2, dense=True)
    assert data["key"] == "k" and data["dense"] is True and data["fps"] == 24
    assert [c["id"] for c in data["clips"]] == ["a", "b"]
    assert data["markers"] == [
        {"at": 1.25, "label": "cut here", "gen_id": None},
        {"at": 3.5, "label": "too dark", "gen_id": "b"},
    ]
    assert data["seek"] == {"to": 1.25, "seq": 2}
    json.dumps(data)  # what the component is given must be JSON


def _page() -> None:
    import streamlit as st

    from studio import ui
    from studio.models import Generation
    from studio.player import Marker

    takes = [
        Generation(id=i, created_at="2026-12-02T10:00:00", prompt="A fox", status="done", video_path=f"{i}.mp4")
        for i in ("a", "b")
    ]
    state = ui.review_player(
        takes,
        key="p",
        labels=["A", "B"],
        markers=[Marker(1.0, "here", "a")],
        seek_to=st.session_state.get("seek"),
    )
    st.write(f"position={state.position} marked={state.marked}")


def shown(at: AppTest) -> dict:
    [element] = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_review_player_on_a_page_seeks_once_per_new_seek_to(idle):
    at = AppTest.from_function(_page)
    at.session_state["services"] = idle  # the media store that names each take's URL
    at.run()
    assert not at.exception, at.exception
    data = shown(at)
    assert [c["url"] for c in data["clips"]] == [f"http://localhost:8501/files/{i}.mp4" for i in ("a", "b")]
    assert [c["label"] for c in data["clips"]] == ["A", "B"]
    assert data["markers"] == [{"at": 1.0, "label": "here", "gen_id": "a"}]
    assert data["seek"] == {"to": None, "seq": 0}
    assert "position=0.0 marked=None" in at.markdown[0].value
    at.session_state["seek"] = 2.5
    assert shown(at.run())["seek"] == {"to": 2.5, "seq": 1}
    assert shown(at.run())["seek"] == {"to": 2.5, "seq": 1}  # the same value: no new seek
    at.session_state["seek"] = 0.5
    assert shown(at.run())["seek"] == {"to": 0.5, "seq": 2}
    at.session_state["seek"] = 2.5
    assert shown(at.run())["seek"] == {"to": 2.5, "seq": 3}  # back to an earlier moment seeks again


def test_a_player_with_nothing_finished_says_so():
    def page() -> None:
        from studio import ui
        from studio.models import Generation

        ui.review_player([Generation(id="x", created_at="2026-12-02", prompt="p", status="running")], key="q")

    at = AppTest.from_function(page).run()
    assert not at.exception and not at.get("bidi_component")
    assert at.caption[0].value == "No finished take to play yet."
