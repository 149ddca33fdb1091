"""What the Decisions page must say, worked out here from the votes table with a Wilson interval of
the test's own (not the studio's), and the page's table read back as text. Shared by the journeys
that vote and then open Decisions."""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path

from playwright.sync_api import Page

Z_95 = 1.959964


def wilson(wins: int, n: int, z: float = Z_95) -> tuple[float, float]:
    "The Wilson score interval, as in any statistics book."
    p = wins / n
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    centre = p + z * z / (2 * n)
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


def tallies(db: Path, setting: str) -> dict[str, dict[str, int]]:
    """Wins, losses and ties per value of `setting`, counted from the votes that differed in it (a
    "no preference" vote is a tie for both values)."""
    counts: dict[str, dict[str, int]] = {}
    with closing(sqlite3.connect(db)) as conn:
        for choice, differed in conn.execute("SELECT choice, differed FROM votes"):
            if setting not in (pair := json.loads(differed)):
                continue
            a, b = (str(v) for v in pair[setting])
            for value in (a, b):
                counts.setdefault(value, {"wins": 0, "losses": 0, "ties": 0})
            if choice == "none":
                counts[a]["ties"] += 1
                counts[b]["ties"] += 1
            else:
                winner, loser = (a, b) if choice == "a" else (b, a)
                counts[winner]["wins"] += 1
                counts[loser]["losses"] += 1
    return counts


def table_rows(page: Page, setting: str) -> dict[str, dict[str, str]]:
    "One setting's table on Decisions, as text: {value: {column: cell}}."
    table = page.locator(f".st-key-decisions_{setting} table")
    table.wait_for(timeout=30_000)
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = {}
    for tr in table.locator("tbody tr").all():
        cells = [c.strip() for c in tr.locator("th, td").all_inner_texts()]
        rows[cells[0]] = dict(zip(headers[1:], cells[1:], strict=True))
    return rows


def rate_and_interval(c: dict[str, int]) -> tuple[str, str]:
    "A value's win rate and 95 % interval as the page writes them."
    n = c["wins"] + c["losses"]
    low, high = wilson(c["wins"], n)
    return f"{round(100 * c['wins'] / n)} %", f"{round(low * 100)}–{round(high * 100)} %"


def check_table(page: Page, db: Path, setting: str, label=str) -> dict[str, dict[str, int]]:
    """The table of `setting` on the open Decisions page against the votes in `db`: every value, its
    wins / losses / ties, and (where it has a decisive vote) its win rate and interval. `label`
    turns a recorded value into the page's name for it. Returns the tallies."""
    counts = tallies(db, setting)
    rows = table_rows(page, setting)
    assert set(rows) == {label(v) for v in counts}, (rows, counts)
    for value, c in counts.items():
        row = rows[label(value)]
        assert row["Wins / losses / ties"] == f"{c['wins']} / {c['losses']} / {c['ties']}", (value, row)
        if c["wins"] + c["losses"]:
            assert (row["Win rate"], row["95 % interval"]) == rate_and_interval(c), (value, row)
    return counts
