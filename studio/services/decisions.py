"""Decisions: the blind votes rolled up per setting and value (the maths is `studio.decisions`),
with the stars, ratings and grid winners of the voted takes beside them, each value's cost per
generated second (the token model of `studio.costs` at that value, the other settings as in most
of the voted takes; credits when a rate is configured), the median generation time of its
finished takes, and win rate per credit (per 1k tokens without a rate), so "worth it" is a number.

Votes are read from the `votes` table (written by the review queue). A vote keeps what differed,
so it counts after its takes are deleted; the roll-ups beside it come from the takes that remain.
Filters: the voter and the vote's date (on the votes), and tag, collection and author (on the
takes: a vote counts when either of its remaining takes matches all three).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from .. import costs
from .. import decisions as maths
from ..errors import ParamsError
from ..models import ASPECT_RATIOS, RESOLUTIONS, Generation
from .app import Services

# The filters, by their URL parameter (and `studio decisions` flag) names.
DECISION_PARAMS = ("tag", "collection", "author", "voter", "since", "until")
TOKENS_PER_1K = 1000
ID_CHUNK = 500  # takes looked up per query (far below SQLite's limit on parameters)


@dataclass(frozen=True)
class DecisionFilters:
    "What the Decisions page and `studio decisions` are narrowed to (empty: everything)."

    tag: str | None = None
    collection: str | None = None
    author: str | None = None
    voter: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive: the whole day

    @property
    def on_takes(self) -> bool:
        return bool(self.tag or self.collection or self.author)

    def as_params(self) -> dict[str, str]:
        "The filters as URL parameters (only those set)."
        out = {k: getattr(self, k) for k in DECISION_PARAMS}
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in out.items() if v}


def _day(name: str, value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParamsError(f"{name} takes a date such as 2026-01-31 (got {value!r})", field=name) from None


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParamsError(f"The {name} filter takes text, not {type(value).__name__}", field=name)
    return value.strip() or None


def decision_filters(services: Services, values: Mapping[str, Any]) -> DecisionFilters:
    """The filters from URL parameters or command-line flags, checked: ParamsError for a date that is
    not one, `since` after `until`, an unknown collection or an unknown filter name."""
    unknown = [k for k in values if k not in DECISION_PARAMS]
    if unknown:
        raise ParamsError(
            f"Decisions have no {unknown[0]!r} filter (they know {', '.join(DECISION_PARAMS)})", field=unknown[0]
        )
    since, until = _day("since", values.get("since")), _day("until", values.get("until"))
    if since and until and since > until:
        raise ParamsError(f"since ({since}) is after until ({until}): nothing could match", field="since")
    collection = _text("collection", values.get("collection"))
    if collection and services.store.get_collection(collection) is None:
        raise ParamsError(f"There is no collection {collection!r}: it may have been deleted", field="collection")
    return DecisionFilters(
        tag=_text("tag", values.get("tag")),
        collection=collection,
        author=_text("author", values.get("author")),
        voter=_text("voter", values.get("voter")),
        since=since,
        until=until,
    )


# ---------------------------------------------------------------------- the table


@dataclass(frozen=True)
class ValueRow:
    "One value of one setting: what the votes say and what its takes cost and took."

    value: Any
    label: str
    votes: int
    wins: int
    losses: int
    ties: int
    win_rate: float | None
    ci_low: float
    ci_high: float
    takes: int  # voted takes with this value that still exist (the roll-ups are theirs)
    starred: int
    rated: int
    mean_rating: float | None
    grid_winners: int
    tokens_per_second: float  # at this value, the rest at its setting's cost basis
    credits_per_second: float | None  # None when no credit rate is configured
    median_time_s: float | None  # of the finished takes among them
    win_rate_per_credit: float | None
    win_rate_per_1k_tokens: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SettingDecision:
    "One setting's section: its values (best first), the verdict, and the takes behind the leader."

    setting: str
    name: str
    rows: tuple[ValueRow, ...]
    verdict: maths.Verdict
    leader_take_ids: tuple[str, ...]  # the leading value's takes in these votes (those that remain)
    cost_basis: tuple[str, str]  # (resolution, aspect ratio) its values are priced at (see cost_basis)

    def as_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "setting": self.setting,
            "name": self.name,
            "leader": v.leader,
            "separated": v.separated,
            "unseparated": [{"value": u.value, "votes_needed": u.votes_needed} for u in v.unseparated],
            "sentence": v.sentence,
            "cost_basis": {"resolution": self.cost_basis[0], "aspect_ratio": self.cost_basis[1]},
            "values": [r.as_json() for r in self.rows],
        }


@dataclass(frozen=True)
class Decisions:
    "Every setting's section for the votes the filters keep."

    filters: DecisionFilters
    votes: int
    voters: tuple[str, ...]
    credit_rates: bool  # whether "per credit" (True) or "per 1k tokens" (False) is the worth-it figure
    settings: tuple[SettingDecision, ...]

    def as_json(self) -> dict[str, Any]:
        "The table as `studio decisions --json` prints it."
        return {
            "filters": self.filters.as_params(),
            "votes": self.votes,
            "voters": list(self.voters),
            "ties": "a “no preference” vote is counted but is neither a win nor a loss: "
            "win rate = wins / (wins + losses)",
            "interval": "95 % Wilson score interval (z = 1.959964)",
            "worth_it": "win_rate_per_credit" if self.credit_rates else "win_rate_per_1k_tokens",
            "settings": [s.as_json() for s in self.settings],
        }


# ---------------------------------------------------------------------- reading


def _vote_rows(services: Services, filters: DecisionFilters) -> list[dict[str, Any]]:
    clauses, params = [], []
    if filters.voter:
        clauses.append("voter = ?")
        params.append(filters.voter)
    if filters.since:
        clauses.append("created_at >= ?")
        params.append(filters.since.isoformat())
    if filters.until:
        clauses.append("created_at < ?")
        params.append((filters.until + timedelta(days=1)).isoformat())
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return services.store.query(f"SELECT * FROM votes {where} ORDER BY created_at, id", params)


def _takes(services: Services, ids: Iterable[str]) -> dict[str, Generation]:
    wanted = sorted(set(ids))
    found: dict[str, Generation] = {}
    for start in range(0, len(wanted), ID_CHUNK):
        found.update((g.id, g) for g in services.store.many(wanted[start : start + ID_CHUNK]))
    return found


def _differed(text: str | None) -> dict[str, tuple[Any, Any]]:
    try:
        raw = json.loads(text or "{}")
    except ValueError:
        return {}  # a damaged row decides nothing rather than stopping the page
    if not isinstance(raw, dict):
        return {}
    return {k: (v[0], v[1]) for k, v in raw.items() if isinstance(v, (list, tuple)) and len(v) == 2}


def _matches(take: Generation, filters: DecisionFilters, in_collection: set[str]) -> bool:
    if filters.tag and filters.tag.casefold() not in {t.casefold() for t in take.tag_list}:
        return False
    if filters.collection and take.id not in in_collection:
        return False
    return not (filters.author and take.author != filters.author)


# ---------------------------------------------------------------------- roll-ups


def _takes_with(setting: str, value: Any, takes: Iterable[Generation]) -> list[Generation]:
    return [t for t in takes if maths.setting_value(setting, getattr(t, setting)) == value]


def cost_basis(setting: str, takes: Iterable[Generation]) -> tuple[str, str]:
    """The (resolution, aspect ratio) a setting's values are priced at, so the cost of a value shows
    what that value changes and nothing else: the most common resolution and the most common aspect
    ratio among the takes voted on for this setting, each counted on its own (a tie goes to 720p /
    16:9 when they are among the tied, else to the first in the node's order; 720p 16:9 when no take
    is left). A resolution's own value, or an aspect ratio's, replaces its half."""
    shown = list(takes)
    return (
        _most_common([t.resolution for t in shown], costs.BASELINE_RESOLUTION, RESOLUTIONS),
        _most_common([t.aspect_ratio for t in shown], costs.BASELINE_ASPECT_RATIO, ASPECT_RATIOS),
    )


def _most_common(values: list[str], baseline: str, order: tuple[str, ...]) -> str:
    counts = Counter(values)
    if not counts:
        return baseline
    top = max(counts.values())
    tied = [v for v in counts if counts[v] == top]
    if baseline in tied:
        return baseline
    return min(tied, key=lambda v: (order.index(v) if v in order else len(order), v))


def _priced(setting: str, value: Any, basis: tuple[str, str]) -> tuple[str, str]:
    resolution, aspect = basis
    return (value if setting == "resolution" else resolution, value if setting == "aspect_ratio" else aspect)


def _tokens_per_second(setting: str, value: Any, basis: tuple[str, str]) -> float:
    "Tokens one generated second costs at this value (the rest at the setting's basis)."
    try:
        return costs.tokens(*_priced(setting, value, basis), 1)
    except ParamsError:  # a value this studio does not know (an older vote): the basis's cost
        return costs.tokens(*basis, 1)


def _credits_per_second(
    setting: str, value: Any, basis: tuple[str, str], rates: costs.CreditRates | None
) -> float | None:
    if rates is None:
        return None
    return rates.per_second.get(_priced(setting, value, basis)[0])


def _row(
    setting: str,
    t: maths.Tally,
    takes: Mapping[str, Generation],
    basis: tuple[str, str],
    rates: costs.CreditRates | None,
) -> ValueRow:
    mine = _takes_with(setting, t.value, (takes[i] for i in sorted(t.take_ids) if i in takes))
    ratings = [g.rating for g in mine if g.rating is not None]
    times = [g.elapsed_s for g in mine if g.status == "done" and g.elapsed_s is not None]
    per_second = _tokens_per_second(setting, t.value, basis)
    credits = _credits_per_second(setting, t.value, basis, rates)
    low, high = t.interval
    rate = t.win_rate
    return ValueRow(
        value=t.value,
        label=maths.value_label(setting, t.value),
        votes=t.votes,
        wins=t.wins,
        losses=t.losses,
        ties=t.ties,
        win_rate=rate,
        ci_low=low,
        ci_high=high,
        takes=len(mine),
        starred=sum(1 for g in mine if g.starred),
        rated=len(ratings),
        mean_rating=statistics.fmean(ratings) if ratings else None,
        grid_winners=sum(1 for g in mine if g.winner),
        tokens_per_second=per_second,
        credits_per_second=credits,
        median_time_s=statistics.median(times) if times else None,
        win_rate_per_credit=rate / credits if rate is not None and credits else None,
        win_rate_per_1k_tokens=rate / (per_second / TOKENS_PER_1K) if rate is not None and per_second else None,
    )


def decisions(services: Services, filters: DecisionFilters | None = None) -> Decisions:
    "Every setting's values, win rates, intervals, roll-ups and costs for the votes the filters keep."
    filters = filters or DecisionFilters()
    rows = _vote_rows(services, filters)
    takes = _takes(services, (i for r in rows for i in (r["a_id"], r["b_id"])))
    if filters.on_takes:
        in_collection = (
            {g.id for g in services.store.collection_items(filters.collection)} if filters.collection else set()
        )
        # A vote whose takes are both gone cannot say what tag or collection they had: left out here.
        rows = [
            r
            for r in rows
            if any(_matches(takes[i], filters, in_collection) for i in (r["a_id"], r["b_id"]) if i in takes)
        ]
    ballots = [maths.Ballot(r["a_id"], r["b_id"], r["choice"], _differed(r["differed"])) for r in rows]
    rates = costs.parse_credit_rates(services.settings.credits_per_second)
    sections = []
    for setting, tallies in maths.tally(ballots).items():
        order = maths.ranked(tallies)
        verdict = maths.verdict(setting, order)
        leader = next((t for t in order if verdict.leader is not None and t.value == verdict.leader), None)
        basis = cost_basis(setting, (takes[i] for t in order for i in sorted(t.take_ids) if i in takes))
        sections.append(
            SettingDecision(
                setting=setting,
                name=maths.SETTING_NAMES[setting],
                rows=tuple(_row(setting, t, takes, basis, rates) for t in order),
                cost_basis=basis,
                verdict=verdict,
                leader_take_ids=tuple(sorted(i for i in leader.take_ids if i in takes)) if leader else (),
            )
        )
    return Decisions(
        filters=filters,
        votes=len(rows),
        voters=tuple(sorted({r["voter"] for r in rows})),
        credit_rates=rates is not None,
        settings=tuple(sections),
    )


def voters(services: Services) -> list[str]:
    "Everyone who has voted, alphabetically (for the voter filter)."
    return [r["voter"] for r in services.store.query("SELECT DISTINCT voter FROM votes ORDER BY voter")]
