"""`studio decisions`: the service's table as JSON (or a text table), its filters, and bad filters
(one line on stderr, exit 2)."""

from __future__ import annotations

import json

import pytest
from support import add_done, settings_for, use_sim_env
from vote_rows import add_vote

from studio import cli, costs
from studio import services as svc


@pytest.fixture
def voted(clean_sim, tmp_path, monkeypatch):
    "The data folder `studio` reads (STUDIO_DATA_DIR), with three votes on two aspect ratios."
    use_sim_env(monkeypatch, clean_sim)
    studio = svc.build_services(settings_for(clean_sim, tmp_path / "data"), start_worker=False)
    a = add_done(studio, "Product shot: a watch", author="ana", aspect_ratio="9:16")
    b = add_done(studio, "Product shot: a watch", author="ana", aspect_ratio="16:9")
    studio.store.update(a, elapsed_s=240.0, tags="hero")
    add_vote(studio, "ana", a, b, "a", created_at="2026-03-01T09:00:00+00:00")
    add_vote(studio, "ben", a, b, "a", created_at="2026-03-02T09:00:00+00:00")
    add_vote(studio, "cy", b, a, "none", created_at="2026-03-03T09:00:00+00:00")
    yield studio
    studio.close()


def test_json_is_the_services_table(voted, capsys):
    assert cli.main(["decisions", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(svc.decisions(voted).as_json()))
    [ratios] = [s for s in printed["settings"] if s["setting"] == "aspect_ratio"]
    assert [(v["value"], v["wins"], v["losses"], v["ties"]) for v in ratios["values"]] == [
        ("9:16", 2, 0, 1),
        ("16:9", 0, 2, 1),
    ]


def test_filters_narrow_the_json(voted, capsys):
    assert cli.main(["decisions", "--json", "--voter", "ben", "--since", "2026-03-02", "--tag", "hero"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["votes"] == 1 and printed["voters"] == ["ben"]
    assert printed["filters"] == {"voter": "ben", "since": "2026-03-02", "tag": "hero"}
    filters = svc.decision_filters(voted, {"voter": "ben", "since": "2026-03-02", "tag": "hero"})
    assert printed == json.loads(json.dumps(svc.decisions(voted, filters).as_json()))


def test_without_json_a_readable_table(voted, capsys):
    assert cli.main(["decisions"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 votes from 3 voters")
    assert "Aspect ratio: The data do not yet separate 9:16 and 16:9" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("9:16"))
    tokens = f"{costs.tokens('720p', '9:16', 1):,.0f}"  # 720 × 1280 × 25 frames ÷ 1024
    assert row.split()[:6] == ["9:16", "100%", "34%–100%", "3", "2/0/1", tokens]
    assert "4 min" in row


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--since", "yesterday"], "since takes a date"),
        (["--since", "2026-03-05", "--until", "2026-03-01"], "is after until"),
        (["--collection", "gone"], "no collection 'gone'"),
    ],
)
def test_bad_filters_are_one_line_on_stderr_and_exit_2(voted, capsys, argv, words):
    assert cli.main(["decisions", *argv]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    [line] = out.err.splitlines()
    assert line.startswith("error: ") and words in line
