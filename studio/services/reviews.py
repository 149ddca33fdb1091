"""Blind review (issue 9 §2): a queue of pairs of finished takes of the same prompt that differ in
settings, served in random order with random sides, and one vote per person per pair.

A pair is two finished takes (status done, video saved) with the same prompt text, or two cells of
one comparison (its prompt variants), with the same model and references, that differ in at least
one of REVIEW_SETTINGS. A vote keeps the prompt and what differed, so it still counts after either
take is deleted. The queue can be restricted to a collection, a comparison or a tag (`ReviewScope`).
Randomness comes from the `rng` argument (tests pass a seeded `random.Random`).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from ..decisions import SETTING_NAMES, SETTINGS
from ..dialects import insert_sql
from ..errors import ParamsError
from ..models import Generation
from ..store import new_id, utcnow
from .app import Services
from .gallery import MAX_TAG_CHARS

# The settings a vote compares, in the order a reveal names them ("prompt": a prompt variant): the
# ones Decisions rolls up (studio.decisions, one list).
REVIEW_SETTINGS = SETTINGS
REVIEW_SETTING_NAMES = {s: name.lower() for s, name in SETTING_NAMES.items()}  # "aspect ratio", "prompt variant"
VOTE_CHOICES = ("a", "b", "none")  # A is better, B is better, no preference
REVIEW_SCOPES = ("collection", "comparison", "tag")  # also the page's URL parameters: /review?tag=hero
PAIR_SEPARATOR = "|"
MAX_VOTER_CHARS = 200
# The queue pairs up the newest this many finished takes in its scope, and the newest this many
# takes of any one prompt (a prompt with 60 takes already makes 1,770 pairs), whatever the size of
# the history. The worst case, 2,000 takes of 40 prompts (49,000 pairs), takes about 0.1 s a look
# on a 2-core machine; a comparison or a collection, a few milliseconds.
QUEUE_POOL = 2_000
MAX_GROUP_TAKES = 60


@dataclass(frozen=True)
class ReviewScope:
    "What a review queue is restricted to: everything (kind None), a collection, a comparison or a tag."

    kind: str | None = None
    ref: str = ""

    @classmethod
    def parse(cls, text: str | None) -> ReviewScope:
        "'collection:<id>', 'comparison:<id>', 'tag:<name>' or None/'' (everything); ParamsError otherwise."
        if text is None or not str(text).strip():
            return cls()
        kind, sep, ref = str(text).strip().partition(":")
        return cls.of(kind, ref) if sep else cls.of(kind, "")

    @classmethod
    def of(cls, kind: str, ref: str) -> ReviewScope:
        "A checked scope from a kind and its id or tag."
        if kind not in REVIEW_SCOPES:
            raise ParamsError(f"A review can be restricted to {', '.join(REVIEW_SCOPES)} (not {kind!r})", field="scope")
        ref = " ".join(str(ref).split())
        if not ref:
            raise ParamsError(f"Say which {kind} to review", field="scope")
        if kind == "tag" and len(ref) > MAX_TAG_CHARS:
            raise ParamsError(f"Tags are at most {MAX_TAG_CHARS} characters", field="scope")
        return cls(kind, ref)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ReviewScope:
        "The scope a link names (/review?collection=<id>, ?comparison=<id>, ?tag=<name>); the first one given."
        for kind in REVIEW_SCOPES:
            value = params.get(kind)
            if value is not None:
                return cls.of(kind, value)
        return cls()

    @property
    def key(self) -> str | None:
        "As a vote records it: 'collection:<id>' (None for everything)."
        return f"{self.kind}:{self.ref}" if self.kind else None

    def params(self) -> dict[str, str]:
        "The URL parameters that name this scope."
        return {self.kind: self.ref} if self.kind else {}


@dataclass(frozen=True)
class ReviewPair:
    "Two takes as the reviewer sees them: A on the left, B on the right."

    a: Generation
    b: Generation
    differed: dict[str, list[Any]]  # setting -> [A's value, B's value]

    @property
    def pair_key(self) -> str:
        return pair_key(self.a.id, self.b.id)


@dataclass(frozen=True)
class ReviewQueue:
    """One look at a voter's queue in a scope: the pair to judge now (None when there is none),
    and the counts: finished takes in the scope, pairs they make, pairs this voter has voted on."""

    scope: ReviewScope
    pair: ReviewPair | None
    takes: int
    pairs: int
    voted: int

    @property
    def left(self) -> int:
        "Pairs this voter has not voted on yet, the one served included."
        return self.pairs - self.voted


@dataclass(frozen=True)
class Vote:
    "One recorded vote."

    id: str
    voter: str
    a_id: str
    b_id: str
    pair_key: str
    choice: str
    winner_id: str | None
    prompt: str
    differed: dict[str, list[Any]] = field(default_factory=dict)
    scope: str | None = None
    created_at: str = ""

    @property
    def loser_id(self) -> str | None:
        if self.choice == "a":
            return self.b_id
        if self.choice == "b":
            return self.a_id
        return None


def pair_key(a_id: str, b_id: str) -> str:
    "The pair's key, the same whichever side each take was shown on."
    return PAIR_SEPARATOR.join(sorted((a_id, b_id)))


def differences(a: Generation, b: Generation) -> dict[str, list[Any]]:
    "The review settings in which two takes differ: {setting: [A's value, B's value]}."
    return {
        s: [getattr(a, s), getattr(b, s)]
        for s in REVIEW_SETTINGS
        if _setting(getattr(a, s), s) != _setting(getattr(b, s), s)
    }


def _finished(gen: Generation) -> bool:
    return gen.status == "done" and bool(gen.video_path)


def _same_source(a: Generation, b: Generation) -> bool:
    "Same prompt (or cells of one comparison: its variants), same model and references."
    related = a.prompt.strip() == b.prompt.strip() or (a.grid_id is not None and a.grid_id == b.grid_id)
    return related and a.model == b.model and a.selected_context == b.selected_context


def _pairs(takes: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Every review pair among these takes (rows of TAKE_COLUMNS, newest first) as (id, id), the
    smaller id first, in a stable order. Only ids and settings: a queue of thousands of pairs builds
    no Generation but the two it serves."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for take in takes:
        source = (take["model"], take["selected_context"] or "")
        groups[("prompt", take["prompt"].strip(), *source)].append(take)
        if take["grid_id"]:
            groups[("comparison", take["grid_id"], *source)].append(take)
    settings = {t["id"]: tuple(_setting(t[s], s) for s in REVIEW_SETTINGS) for t in takes}
    found: dict[tuple[str, str], None] = {}
    for members in groups.values():
        for a, b in combinations([t["id"] for t in members[:MAX_GROUP_TAKES]], 2):
            if settings[a] != settings[b]:
                found[(a, b) if a < b else (b, a)] = None
    return list(found)


def _setting(value: Any, setting: str) -> Any:
    "A setting as pairs compare it: prompts without surrounding spaces, audio as true/false."
    if setting == "prompt":
        return str(value).strip()
    return bool(value) if setting == "generate_audio" else value


# ---------------------------------------------------------------------- the rows


FINISHED_SQL = "g.status = 'done' AND g.video_path IS NOT NULL AND g.video_path != ''"
# What pairing needs of a take (not the whole row: a queue reads up to QUEUE_POOL of them per look).
TAKE_COLUMNS = ", ".join(
    f"g.{c}" for c in ("id", "prompt", "grid_id", "model", "selected_context", "tags", *REVIEW_SETTINGS[:-1])
)


def _scope_takes(services: Services, scope: ReviewScope) -> list[dict[str, Any]]:
    """The newest QUEUE_POOL finished takes in the scope, as rows of TAKE_COLUMNS; ParamsError when
    the scope names a collection or comparison that is not there."""
    if scope.kind == "collection":
        if services.store.get_collection(scope.ref) is None:
            raise ParamsError("There is no such collection: it may have been deleted", field="scope")
        sql = (
            f"SELECT {TAKE_COLUMNS} FROM generations g JOIN collection_items i ON i.generation_id = g.id "
            f"WHERE i.collection_id = ? AND {FINISHED_SQL}"
        )
        params: list[Any] = [scope.ref]
    elif scope.kind == "comparison":
        if services.store.get_grid(scope.ref) is None:
            raise ParamsError("There is no such comparison: it may have been deleted", field="scope")
        sql, params = f"SELECT {TAKE_COLUMNS} FROM generations g WHERE g.grid_id = ? AND {FINISHED_SQL}", [scope.ref]
    elif scope.kind == "tag":
        # LIKE narrows the rows; the exact (case-blind) tag match is made on the tag list below.
        sql, params = (
            f"SELECT {TAKE_COLUMNS} FROM generations g WHERE lower(g.tags) LIKE lower(?) AND {FINISHED_SQL}",
            [f"%{scope.ref}%"],
        )
    else:
        sql, params = f"SELECT {TAKE_COLUMNS} FROM generations g WHERE {FINISHED_SQL}", []
    rows = services.store.query(sql + " ORDER BY g.created_at DESC, g.rowid DESC LIMIT ?", [*params, QUEUE_POOL])
    if scope.kind == "tag":
        wanted = scope.ref.casefold()
        rows = [r for r in rows if wanted in {t.strip().casefold() for t in (r["tags"] or "").split(",")}]
    return rows


def _voted(services: Services, voter: str) -> set[tuple[str, str]]:
    "The pairs this voter has voted on, as (id, id), the smaller id first."
    rows = services.store.query("SELECT pair_key FROM votes WHERE voter = ?", [voter])
    return {(a, b) for a, _, b in (r["pair_key"].partition(PAIR_SEPARATOR) for r in rows)}


def _voter(voter: object) -> str:
    name = " ".join(voter.split()) if isinstance(voter, str) else ""
    if not name:
        raise ParamsError("Say who you are (your name in the sidebar) before voting", field="voter")
    if len(name) > MAX_VOTER_CHARS:
        raise ParamsError(f"A voter's name is at most {MAX_VOTER_CHARS} characters", field="voter")
    return name


# ---------------------------------------------------------------------- the queue


def review_queue(
    services: Services,
    voter: str,
    scope: ReviewScope | str | None = None,
    *,
    current: tuple[str, str] | None = None,
    rng: random.Random | None = None,
) -> ReviewQueue:
    """The voter's queue in this scope and the pair to judge now: `current` (A's id, B's id) when it
    is still a pair this voter has not voted on (a rerun keeps the pair on screen), else a pair
    picked at random with random sides. Read-only."""
    voter = _voter(voter)
    scope = scope if isinstance(scope, ReviewScope) else ReviewScope.parse(scope)
    takes = _scope_takes(services, scope)
    pairs = _pairs(takes)
    voted = _voted(services, voter)
    left = [p for p in pairs if p not in voted]
    shown: tuple[str, str] | None = None
    if current is not None and (min(current), max(current)) in set(left):
        shown = current
    elif left:
        rng = rng or random.Random()
        shown = rng.choice(left)
        if rng.random() < 0.5:
            shown = (shown[1], shown[0])
    pair: ReviewPair | None = None
    found = services.store.many(list(shown)) if shown else []
    if len(found) == 2:  # (a take deleted since the query above: no pair this time)
        a, b = found
        pair = ReviewPair(a, b, differences(a, b))
    return ReviewQueue(scope=scope, pair=pair, takes=len(takes), pairs=len(pairs), voted=len(pairs) - len(left))


# ---------------------------------------------------------------------- votes


def _take(services: Services, gen_id: object, side: str) -> Generation:
    if not isinstance(gen_id, str) or not gen_id.strip():
        raise ParamsError(f"Say which take is {side}", field="vote")
    gen = services.store.get(gen_id.strip())
    if gen is None:
        raise ParamsError(
            f"Take {side} ({gen_id}) no longer exists: it was deleted, so this pair cannot be voted on. Nothing "
            "was saved; go on with the next pair.",
            field="vote",
        )
    if not _finished(gen):
        raise ParamsError(
            f"Take {side} ({gen_id}) is not finished (it is {gen.status}): only finished takes are voted on",
            field="vote",
        )
    return gen


def _vote(row: Mapping[str, Any]) -> Vote:
    return Vote(
        id=row["id"],
        voter=row["voter"],
        a_id=row["a_id"],
        b_id=row["b_id"],
        pair_key=row["pair_key"],
        choice=row["choice"],
        winner_id=row["winner_id"],
        prompt=row["prompt"],
        differed=json.loads(row["differed"] or "{}"),
        scope=row["scope"],
        created_at=row["created_at"],
    )


def _already(services: Services, voter: str, key: str) -> ParamsError | None:
    rows = services.store.query("SELECT * FROM votes WHERE voter = ? AND pair_key = ?", [voter, key])
    if not rows:
        return None
    earlier = _vote(rows[0])
    picked = {"a": "the left one", "b": "the right one", "none": "no preference"}[earlier.choice]
    return ParamsError(
        f"{voter} already voted on this pair ({picked}, {earlier.created_at[:16].replace('T', ' ')} UTC): one vote "
        "per person per pair, so nothing changed",
        field="vote",
    )


def record_vote(
    services: Services, voter: str, a_id: str, b_id: str, choice: str, scope: ReviewScope | str | None = None
) -> Vote:
    """Record the voter's pick between take A and take B ("a", "b" or "none"). Refused with a
    ParamsError, nothing written, for an empty voter, a bad choice, a take deleted or not finished,
    two takes that are not a review pair, a bad scope, or a second vote by the same person on the pair."""
    voter = _voter(voter)
    picked = choice.strip().lower() if isinstance(choice, str) else ""
    if picked not in VOTE_CHOICES:
        raise ParamsError(
            f"A vote is one of {', '.join(VOTE_CHOICES)} (A better, B better, no preference)", field="vote"
        )
    key_scope = (scope if isinstance(scope, ReviewScope) else ReviewScope.parse(scope)).key
    if isinstance(a_id, str) and a_id == b_id:
        raise ParamsError("A pair needs two different takes", field="vote")
    a, b = _take(services, a_id, "A"), _take(services, b_id, "B")
    differed = differences(a, b)
    if not _same_source(a, b) or not differed:
        raise ParamsError(
            "These two takes are not a review pair: a pair is two takes of the same prompt (or of one "
            "comparison) that differ in aspect ratio, resolution, duration, audio or prompt variant",
            field="vote",
        )
    key = pair_key(a.id, b.id)
    if refusal := _already(services, voter, key):
        raise refusal
    vote = Vote(
        id=new_id(),
        voter=voter,
        a_id=a.id,
        b_id=b.id,
        pair_key=key,
        choice=picked,
        winner_id={"a": a.id, "b": b.id}.get(picked),
        prompt=a.prompt,
        differed=differed,
        scope=key_scope,
        created_at=utcnow(),
    )
    row = {**vote.__dict__, "differed": json.dumps(differed)}
    # One statement, committed on its own; a conflict means the same person's vote on this pair
    # landed first (from another tab).
    saved = services.store.execute(insert_sql("votes", list(row), on_conflict="ignore"), list(row.values()))
    if not saved:
        raise _already(services, voter, key) or ParamsError("This vote was already recorded", field="vote")
    return vote


def votes(
    services: Services,
    *,
    voter: str | None = None,
    scope: ReviewScope | str | None = None,
    gen_ids: Iterable[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
) -> list[Vote]:
    """Recorded votes, newest first: by a voter, made in a scope ('collection:<id>'), on any of
    these takes, from `since` (ISO time or date) and before `until` (a bare date covers that day)."""
    where: list[str] = []
    params: list[Any] = []
    if voter is not None:
        where.append("voter = ?")
        params.append(_voter(voter))
    if scope is not None:
        key = (scope if isinstance(scope, ReviewScope) else ReviewScope.parse(scope)).key
        where.append("scope IS NULL" if key is None else "scope = ?")
        params.extend([] if key is None else [key])
    if gen_ids is not None:
        ids = list(dict.fromkeys(gen_ids))
        marks = ",".join("?" * len(ids))
        where.append(f"(a_id IN ({marks}) OR b_id IN ({marks}))" if ids else "1 = 0")
        params.extend([*ids, *ids])
    if since:
        where.append("created_at >= ?")
        params.append(since)
    if until:
        where.append("created_at < ?")
        params.append(until + "\uffff" if len(until) <= 10 else until)
    sql = "SELECT * FROM votes" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY created_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [_vote(r) for r in services.store.query(sql, params)]
