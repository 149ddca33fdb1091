"""Votes written straight into the `votes` table, as the review queue records them (the columns of
m018_votes), but with any date and on any two takes: the Decisions tests need votes cast on given
days, which `svc.record_vote` (always now) cannot make (import as `from vote_rows import add_vote`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from studio.services.reviews import differences


def add_vote(studio, voter: str, a_id: str, b_id: str, choice: str, *, created_at: str | None = None) -> str:
    "One vote on two existing takes (`choice`: 'a', 'b' or 'none'); returns its id."
    a, b = studio.store.get(a_id), studio.store.get(b_id)
    assert a is not None and b is not None, "both takes must exist when the vote is cast"
    vote_id = uuid.uuid4().hex[:12]
    winner = {"a": a_id, "b": b_id}.get(choice)
    studio.store.execute(
        "INSERT INTO votes (id, voter, a_id, b_id, pair_key, choice, winner_id, prompt, differed, scope, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        [
            vote_id,
            voter,
            a_id,
            b_id,
            "|".join(sorted((a_id, b_id))),
            choice,
            winner,
            a.prompt,
            json.dumps(differences(a, b)),
            created_at or datetime.now(UTC).isoformat(timespec="microseconds"),
        ],
    )
    return vote_id
