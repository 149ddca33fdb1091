"""Decisions: what the team's blind votes say. One section per setting (aspect ratio, resolution,
duration, audio, prompt variant): each value's win rate with its 95 % interval, its votes, the
stars, ratings and grid winners of its takes, its cost per generated second, its median generation
time and its win rate per credit; a chart of the intervals; the sentence that names the leader or
says the data cannot yet tell, and how many more votes would; the comments pinned on the leader's
takes. The filters live in the URL, so a filtered view is a link to send.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from studio import decisions as maths
from studio import format as fmt
from studio import services as svc
from studio import ui
from studio.errors import StudioError

SYNCED_KEY = "decisions_synced"  # the URL filters the widgets were last set from
WIDGET = "decisions_{}"  # widget keys, by filter name (not the bare names: other pages use those)
REVIEW_PAGE = "pages/review.py"
CHART_ROW_PX = 36
CHART_AXIS_PX = 60
PINNED_SHOWN = 12


# ---------------------------------------------------------------------- filters (kept in the URL)


def _url() -> dict[str, str]:
    return {k: v for k in svc.DECISION_PARAMS if (v := st.query_params.get(k))}


def _as_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None  # the service says what is wrong with it


def _options(known: list[str], wanted: str | None) -> list[str]:
    return [*known, wanted] if wanted and wanted not in known else known


def filter_form(studio: svc.Services) -> dict[str, str]:
    """The filters, as a form whose Apply writes the URL; a link opened (or the back button) sets
    the widgets from the URL. Returns the URL's filters."""
    url = _url()
    if url != st.session_state.get(SYNCED_KEY):
        for name in svc.DECISION_PARAMS:
            value = url.get(name)
            st.session_state[WIDGET.format(name)] = _as_date(value) if name in ("since", "until") else value
        st.session_state[SYNCED_KEY] = url
    boards = {c.id: c.name for c in svc.collections(studio)}
    on = len(url)
    with (
        st.expander(f"Filters · {on} on" if on else "Filters", icon="🎛️", expanded=bool(on), key="decisions_box"),
        st.form("decisions_filters", border=False),
    ):
        top, bottom = st.columns(3), st.columns(3)
        top[0].text_input("Tag", key=WIDGET.format("tag"), placeholder="Any", help="Takes carrying this tag.")
        top[1].selectbox(
            "Collection",
            _options(list(boards), url.get("collection")),
            index=None,
            key=WIDGET.format("collection"),
            placeholder="Any",
            format_func=lambda i: boards.get(i, f"{i} (not found)"),
        )
        people = (("author", "Author of the takes", svc.authors(studio)), ("voter", "Voter", svc.voters(studio)))
        for column, (name, label, known) in zip((top[2], bottom[0]), people, strict=True):
            column.selectbox(
                label, _options(known, url.get(name)), index=None, key=WIDGET.format(name), placeholder="Anyone"
            )
        bottom[1].date_input("Votes from", value=None, key=WIDGET.format("since"), help="Cast on or after (UTC).")
        bottom[2].date_input("Votes to", value=None, key=WIDGET.format("until"), help="Cast on or before (UTC).")
        buttons = st.columns([1, 1, 4])
        applied = buttons[0].form_submit_button("Apply", type="primary", width="stretch")
        cleared = buttons[1].form_submit_button("Clear", width="stretch")
    if applied or cleared:
        chosen = {} if cleared else {k: st.session_state.get(WIDGET.format(k)) for k in svc.DECISION_PARAMS}
        url = {k: v.isoformat() if isinstance(v, date) else str(v).strip() for k, v in chosen.items() if v}
        url = {k: v for k, v in url.items() if v}
        st.query_params.from_dict(url)
        st.session_state[SYNCED_KEY] = None  # the widgets follow the new URL on the rerun
        st.rerun()
    return url


# ---------------------------------------------------------------------- one setting


def _rate(row: svc.ValueRow) -> str:
    return fmt.MISSING if row.win_rate is None else maths.percent(row.win_rate)


def _interval(row: svc.ValueRow) -> str:
    if row.win_rate is None:
        return fmt.MISSING
    return f"{round(row.ci_low * 100)}–{round(row.ci_high * 100)} %"


def _rollup(row: svc.ValueRow) -> str:
    if not row.takes:
        return "takes deleted"
    rating = f"{row.mean_rating:.1f} ({row.rated})" if row.mean_rating is not None else fmt.MISSING
    return f"★ {row.starred} of {row.takes} · rating {rating} · {fmt.plural(row.grid_winners, 'winner')}"


def _cost(row: svc.ValueRow) -> str:
    tokens = f"{row.tokens_per_second:,.0f} tokens"
    return tokens if row.credits_per_second is None else f"{row.credits_per_second:g} credits ({tokens})"


def _worth(row: svc.ValueRow, per_credit: bool) -> str:
    value = row.win_rate_per_credit if per_credit else row.win_rate_per_1k_tokens
    return fmt.MISSING if value is None else f"{value:.3f}"


def value_table(table: svc.SettingDecision, per_credit: bool) -> pd.DataFrame:
    "The section's table, one row per value, best first, as it reads on the page."
    worth = "Win rate per credit" if per_credit else "Win rate per 1k tokens"
    return pd.DataFrame(
        [
            {
                "Value": r.label,
                "Win rate": _rate(r),
                "95 % interval": _interval(r),
                "Votes": r.votes,
                "Wins / losses / ties": f"{r.wins} / {r.losses} / {r.ties}",
                "Stars · ratings · winners": _rollup(r),
                "Cost per generated second": _cost(r),
                "Median time": fmt.elapsed(r.median_time_s),
                worth: _worth(r, per_credit),
            }
            for r in table.rows
        ]
    ).set_index("Value")


def interval_chart(table: svc.SettingDecision) -> None:
    "Each value's win rate as a dot with its 95 % interval as an error bar; 50 % marked."
    rated = [r for r in table.rows if r.win_rate is not None]
    if not rated:
        return
    data = pd.DataFrame(
        [{"value": r.label, "rate": r.win_rate, "low": r.ci_low, "high": r.ci_high, "votes": r.votes} for r in rated]
    )
    y = {"field": "value", "type": "nominal", "sort": None, "title": None}
    x_scale = {"domain": [0, 1]}
    spec: dict[str, Any] = {
        "layer": [
            {
                "mark": {"type": "rule", "strokeWidth": 3},
                "encoding": {
                    "y": y,
                    "x": {
                        "field": "low",
                        "type": "quantitative",
                        "scale": x_scale,
                        "axis": {"format": "%"},
                        "title": "win rate, with its 95 % interval",
                    },
                    "x2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90},
                "encoding": {
                    "y": y,
                    "x": {"field": "rate", "type": "quantitative", "scale": x_scale},
                    "tooltip": [
                        {"field": "value", "title": table.name},
                        {"field": "rate", "format": ".0%", "title": "win rate"},
                        {"field": "low", "format": ".0%", "title": "95 % low"},
                        {"field": "high", "format": ".0%", "title": "95 % high"},
                        {"field": "votes", "title": "votes"},
                    ],
                },
            },
            {"mark": {"type": "rule", "strokeDash": [4, 4], "opacity": 0.5}, "encoding": {"x": {"datum": 0.5}}},
        ],
    }
    # The height covers the axis below the rows; the plot gets the rest.
    st.vega_lite_chart(data, spec, width="stretch", height=CHART_AXIS_PX + CHART_ROW_PX * len(rated))


def pinned_comments(studio: svc.Services, table: svc.SettingDecision) -> None:
    "The comments pinned to moments of the leader's takes: what decided it, in the reviewers' words."
    if table.verdict.leader is None or not table.leader_take_ids:
        return
    found = svc.pinned_comments(studio, list(table.leader_take_ids))
    if not found:
        return
    label = maths.value_label(table.setting, table.verdict.leader)
    with st.container(key=f"decisions_pinned_{table.setting}"):
        st.markdown(f"**Comments pinned to moments of the {ui.plain(label)} takes**")
        for comment in found[:PINNED_SHOWN]:
            line = st.columns([5, 1], vertical_alignment="center")
            line[0].markdown(
                f"`{comment.moment}` · **{ui.plain(comment.author) or 'someone'}** · {fmt.when(comment.created_at)}: "
                f"{ui.plain(comment.body)}"
            )
            line[1].page_link("pages/gallery.py", label="Open the take", icon="🎬", query_params={"id": comment.gen_id})
        if len(found) > PINNED_SHOWN:
            st.caption(f"…and {len(found) - PINNED_SHOWN} more on these takes.")


def cost_note(table: svc.SettingDecision) -> str:
    "What the cost column holds fixed, so a difference in it is the value's own."
    resolution, aspect = table.cost_basis
    if aspect == "auto":
        aspect = "auto aspect ratio (as 16:9)"
    if table.setting == "resolution":
        held = f"at {aspect}"
    elif table.setting == "aspect_ratio":
        held = f"at {resolution}"
    else:
        return (
            f"A generated second costs the same whichever {table.name.lower()}: priced at {resolution}, {aspect}, "
            "as most of these takes."
        )
    return (
        f"Cost per generated second {held}, as most of these takes, so it shows what the {table.name.lower()} changes."
    )


def setting_section(studio: svc.Services, table: svc.SettingDecision, per_credit: bool) -> None:
    with st.container(key=f"decisions_{table.setting}", border=True):
        st.subheader(table.name)
        if not table.rows:
            st.caption(table.verdict.sentence)
            return
        sentence = ui.plain(table.verdict.sentence)
        if table.verdict.separated:
            st.success(sentence, icon="🏁")
        else:
            st.info(sentence, icon="⚖️")
        st.table(value_table(table, per_credit))
        st.caption(cost_note(table))
        interval_chart(table)
        pinned_comments(studio, table)


# ---------------------------------------------------------------------- the page


def empty_state(filtered: bool) -> None:
    if filtered:
        st.info("No votes match these filters. Widen them, or clear them to see every vote.", icon="🔎")
        return
    st.info(
        "No votes yet. Decisions come from blind reviews: on the Review page, pairs of takes of the same prompt "
        "that differ in one or more settings play side by side without labels, and each reviewer picks A, B or "
        "“no preference”. Once a few people have voted, this page says which values the team prefers.",
        icon="🗳️",
    )
    st.page_link(REVIEW_PAGE, label="Go to Review", icon="🗳️")


def main() -> None:
    studio = ui.services()
    st.title("Decisions")
    st.caption(
        "What the team's blind votes say, per setting. A vote counts for every setting that differed between "
        "its two takes. Win rate = wins ÷ (wins + losses): a “no preference” vote is counted as a tie and shown, "
        "but is neither a win nor a loss. The interval is the 95 % Wilson score interval. Stars, ratings, "
        "winners and times are those of the voted takes that still exist; a vote still counts after its takes "
        "are deleted."
    )
    url = filter_form(studio)
    try:
        filters = svc.decision_filters(studio, url)
        table = svc.decisions(studio, filters)
    except StudioError as err:
        st.error(f"This view's filters can't be used: {ui.plain(err)}. Change them above, or clear them.", icon="⚠️")
        return
    if not table.votes:
        empty_state(filtered=bool(url))
        return
    per_credit = table.credit_rates
    st.markdown(
        f"**{fmt.plural(table.votes, 'vote')}** from {fmt.plural(len(table.voters), 'voter')} "
        f"({ui.plain(', '.join(table.voters))})."
    )
    if not per_credit:
        st.caption(
            "No credit rate is configured (STUDIO_CREDITS_PER_SECOND), so worth-it is win rate per 1,000 tokens "
            "of one generated second (the token model: width × height × frames ÷ 1024)."
        )
    decided = [s for s in table.settings if s.rows]
    for section in decided:
        setting_section(studio, section, per_credit)
    quiet = [s.name.lower() for s in table.settings if not s.rows]
    if quiet:
        st.caption(f"No votes yet on pairs that differed in {', '.join(quiet)}.")


main()
