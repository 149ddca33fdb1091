"""What blind votes say, as numbers: per setting and value, wins, losses and ties, the win rate
with its 95 % Wilson score interval, whether two values' intervals still overlap, and how many more
votes would separate them at the current win rates. Pure: no store, no Streamlit.

A vote counts for every setting that differed between its two takes (the vote keeps what
differed, so it still counts after a take is deleted). "No preference" is a tie: it is counted
and shown, but it is neither a win nor a loss, so the win rate is wins ÷ (wins + losses).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Z_95 = 1.959964  # the normal quantile for a two-sided 95 % interval
# Settings a vote can decide, in the order the Decisions page shows them (the votes' `differed` keys).
SETTINGS = ("aspect_ratio", "resolution", "duration", "generate_audio", "prompt")
SETTING_NAMES = {
    "aspect_ratio": "Aspect ratio",
    "resolution": "Resolution",
    "duration": "Duration",
    "generate_audio": "Audio",
    "prompt": "Prompt variant",
}
# The search for the votes that would separate two values stops here: past it, "not at these rates".
MAX_VOTES_NEEDED = 1_000_000
PROMPT_LABEL_CHARS = 60


# ---------------------------------------------------------------------- the interval


def wilson(wins: float, n: float, z: float = Z_95) -> tuple[float, float]:
    "The Wilson score interval of a proportion wins/n; (0, 1) when there are no votes."
    if n <= 0:
        return 0.0, 1.0
    p = wins / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    "Whether two intervals share any point (touching counts: the data do not separate them)."
    return a[0] <= b[1] and b[0] <= a[1]


def _apart(p1: float, n1: int, p2: float, n2: int, more: int) -> bool:
    return not overlap(wilson(p1 * (n1 + more), n1 + more), wilson(p2 * (n2 + more), n2 + more))


def votes_needed(p1: float, n1: int, p2: float, n2: int, *, limit: int = MAX_VOTES_NEEDED) -> int | None:
    """The smallest number of further decisive votes between two values after which their intervals
    no longer overlap, if each keeps its current win rate (p1 over n1, p2 over n2) and every further
    vote puts both on one side. 0 when they are already apart; None when `limit` votes would not do
    (equal rates never separate)."""
    if _apart(p1, n1, p2, n2, 0):
        return 0
    if p1 == p2 or not _apart(p1, n1, p2, n2, limit):
        return None
    # The intervals narrow around the rates as votes are added, so "apart" stays true once reached:
    # bisect for the first count that is apart.
    low, high = 0, limit  # low: not apart; high: apart
    while high - low > 1:
        middle = (low + high) // 2
        if _apart(p1, n1, p2, n2, middle):
            high = middle
        else:
            low = middle
    return high


# ---------------------------------------------------------------------- tallies


@dataclass(frozen=True)
class Ballot:
    "One vote as the tally needs it: the two takes, the choice and what differed between them."

    a_id: str
    b_id: str
    choice: str  # "a", "b" or "none"
    differed: Mapping[str, tuple[Any, Any]]  # setting -> (A's value, B's value)


@dataclass
class Tally:
    "One value of one setting across the votes where that setting differed."

    value: Any
    wins: int = 0
    losses: int = 0
    ties: int = 0
    take_ids: set[str] = field(default_factory=set)  # the takes on this value's side of its votes

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.decisive if self.decisive else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.wins, self.decisive)


def setting_value(setting: str, value: Any) -> Any:
    "A value as the votes keep it, made comparable: audio as a bool, durations as text."
    if setting == "generate_audio":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "on", "yes")
        return bool(value)
    if setting == "duration":
        return str(value)
    return value


def value_label(setting: str, value: Any) -> str:
    "How a value reads on the page: '9:16', '720p', '5 s', 'audio on', a prompt in quotes."
    if setting == "generate_audio":
        return "audio on" if value else "audio off"
    if setting == "duration":
        return "auto length" if value == "auto" else f"{value} s"
    if setting == "prompt":
        text = " ".join(str(value).split())
        if len(text) > PROMPT_LABEL_CHARS:
            text = text[: PROMPT_LABEL_CHARS - 1].rstrip() + "…"
        return f"“{text}”"
    return str(value)


def tally(ballots: Iterable[Ballot]) -> dict[str, list[Tally]]:
    "Every setting's values with their wins, losses and ties; values in order of first appearance."
    found: dict[str, dict[Any, Tally]] = {s: {} for s in SETTINGS}
    for ballot in ballots:
        for setting, pair in ballot.differed.items():
            if setting not in found or len(pair) != 2:
                continue
            a_value, b_value = (setting_value(setting, v) for v in pair)
            if a_value == b_value:
                continue
            values = found[setting]
            a = values.setdefault(a_value, Tally(a_value))
            b = values.setdefault(b_value, Tally(b_value))
            a.take_ids.add(ballot.a_id)
            b.take_ids.add(ballot.b_id)
            if ballot.choice == "a":
                a.wins, b.losses = a.wins + 1, b.losses + 1
            elif ballot.choice == "b":
                b.wins, a.losses = b.wins + 1, a.losses + 1
            else:
                a.ties, b.ties = a.ties + 1, b.ties + 1
    return {s: list(values.values()) for s, values in found.items()}


def ranked(tallies: Sequence[Tally]) -> list[Tally]:
    "Highest win rate first (values with only ties last), then the most votes."
    return sorted(tallies, key=lambda t: (t.win_rate is None, -(t.win_rate or 0.0), -t.votes))


# ---------------------------------------------------------------------- the verdict


def percent(x: float) -> str:
    return f"{round(x * 100):d} %"


@dataclass(frozen=True)
class Unseparated:
    "A value whose interval still overlaps the leader's, and the further votes that would separate them."

    value: Any
    votes_needed: int | None  # None: not at these win rates (level, or beyond MAX_VOTES_NEEDED)


@dataclass(frozen=True)
class Verdict:
    "What the votes on one setting say: the leading value (if any), and who it is not yet apart from."

    setting: str
    leader: Any | None
    separated: bool
    unseparated: tuple[Unseparated, ...]
    sentence: str


def verdict(setting: str, tallies: Sequence[Tally]) -> Verdict:
    "The sentence that names the team's preference for one setting, or says the data cannot yet."
    name = SETTING_NAMES.get(setting, setting).lower()
    order = ranked(tallies)
    rated = [t for t in order if t.win_rate is not None]
    if not order:
        return Verdict(setting, None, False, (), f"No votes yet on pairs whose {name} differed.")
    if not rated:
        votes = max(t.votes for t in order)
        return Verdict(
            setting, None, False, (), f"Every vote on a {name} difference so far ({votes}) was “no preference”."
        )
    top = rated[0]
    label = value_label(setting, top.value)
    low, high = top.interval
    stated = (
        f"{percent(top.win_rate or 0.0)} (95 % CI {round(low * 100)}–{round(high * 100)} %) "
        f"over {top.decisive} vote{'s' if top.decisive != 1 else ''}"
    )
    if top.ties:
        stated += f" (and {top.ties} “no preference”)"
    others = [t for t in order if t is not top]
    close = [t for t in others if t.win_rate is None or overlap(top.interval, t.interval)]
    if others and not close:
        return Verdict(setting, top.value, True, (), f"The team prefers {label}: {stated}.")
    apart = tuple(
        Unseparated(
            t.value,
            votes_needed(top.win_rate or 0.0, top.decisive, t.win_rate, t.decisive) if t.win_rate is not None else None,
        )
        for t in close
    )
    if not others:
        return Verdict(setting, top.value, False, apart, f"Only {label} has votes so far: {stated}.")
    names = [value_label(setting, u.value) for u in apart]
    # "separate 9:16 and 16:9"; with more: "separate 9:16 from 16:9 or 1:1".
    together = f"and {names[0]}" if len(names) == 1 else "from " + ", ".join(names[:-1]) + " or " + names[-1]
    needs = [u.votes_needed for u in apart]
    if all(n is not None for n in needs):
        more = max(n for n in needs if n is not None)
        how = f"about {more} more vote{'s' if more != 1 else ''} with a preference would, at the current win rates"
    else:
        how = "at the current win rates more votes would not (they are too close)"
    sentence = f"The data do not yet separate {label} {together}: {how}. {label} leads with {stated}."
    return Verdict(setting, top.value, False, apart, sentence)
