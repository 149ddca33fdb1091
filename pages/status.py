"""Status: which API the studio talks to, whether the key works, the credit balance, and the queue
(in-flight jobs with progress and Cancel; recent failures with Retry). Polls only while jobs run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from studio import budget, ui
from studio import format as fmt
from studio import services as svc
from studio.budget import NO_NAME, RESET_NOTE

PROMPT_PREVIEW_CHARS = 90
RECENT_FAILURES = 10
RECENT_STRAYS = 10
IDLE_CHECK_S = 5.0  # an idle Status page notices runs started in another tab or by the CLI
IDLE_SEEN_KEY = "status_idle_seen"  # session: the idle queue's last look (svc.look_again)
EXPORTS_SEEN_KEY = "status_exports_seen"


def short(text: str) -> str:
    "One line of a prompt, for lists (shown with st.text: plain text, never markdown)."
    line = " ".join(text.split())
    return line if len(line) <= PROMPT_PREVIEW_CHARS else line[: PROMPT_PREVIEW_CHARS - 1] + "…"


def api_section(studio: svc.Services) -> None:
    info = svc.api_status(studio, refresh=bool(st.session_state.get("status_check_again")))
    simulated = info["mode"] == "simulator"
    c1, c2, c3 = st.columns(3, border=True)
    c1.metric("API in use", "Simulator" if simulated else "Mosaic")
    key_text = {True: "Works", False: "Refused", None: "Not checked"}[info["key_ok"]]
    c2.metric("API key" if not simulated else "Connection", key_text)
    if simulated:  # the simulator's pretend balance is no money of anybody's: say so, don't show it
        c3.metric("Credit balance", "None used", help="Simulator runs are free; no Mosaic credits are spent.")
    else:
        c3.metric("Credit balance", f"{info['credits']:,.0f}" if info["credits"] is not None else "Not reported")
    st.caption(f"{info['label']} · organization: {info['organization'] or 'unknown'}")
    st.caption(ui.plain(studio.stores_label))  # which database and media store this replica uses (no secret)
    if info["key_ok"] is False:
        st.error(f"The key check (/whoami) failed: {info['error']}", icon="⚠️")
    st.button("Check again", key="status_check_again")


def render_queue(queue: list[svc.RunWait]) -> None:
    "Tracked runs (still shown for a moment once finished) plus any that were queued since."
    for wait in queue:
        gen = wait.gen
        with st.container(border=True, key=f"status_job_{gen.id}"):
            c1, c2, c3 = st.columns([4, 4, 1], vertical_alignment="center")
            with c1:
                st.text(short(gen.prompt))
                st.caption(
                    f"{gen.id} · {fmt.settings_line(gen)}"
                    + (f" · {ui.plain(gen.cell_label)}" if gen.cell_label else "")
                )
            with c2:
                ui.run_progress(wait)
            with c3:
                if svc.can_cancel(gen) and st.button(
                    "Cancel", key=f"status_cancel_{gen.id}", type="primary" if wait.stuck else "secondary"
                ):
                    ui.act(svc.cancel, gen.id)
            if wait.stuck:
                st.warning(
                    f"Stuck: Mosaic has shown no progress on this run for {fmt.elapsed(wait.idle_s)} "
                    f"(submitted {fmt.elapsed(wait.since_submitted_s)} ago). Cancel it, then run it again "
                    "from Recently failed.",
                    icon="⚠️",
                )


@st.fragment(run_every=IDLE_CHECK_S)
@ui.errors_shown_in
def watch_for_new_jobs(studio: svc.Services) -> None:
    """While the queue is empty, look now and then for runs started elsewhere: one count query, and
    only when the change feed says runs changed since the last look."""
    seen = svc.look_again(
        studio, st.session_state.get(IDLE_SEEN_KEY), "active", lambda: svc.active_count(studio), "generations"
    )
    st.session_state[IDLE_SEEN_KEY] = seen
    if seen.value:
        st.rerun()


def paused_banner(studio: svc.Services) -> None:
    "The worker waits for disk space: say so above the queue, where the runs seem not to move."
    reason = svc.worker_paused(studio)
    if reason:
        st.error(
            f"Disk full: the worker is paused ({reason}). Free some space on the disk holding the data folder; "
            "the worker looks again now and then and resumes by itself. Nothing saved is lost.",
            icon="💽",
        )


def workers_line(studio: svc.Services) -> None:
    "Which job workers are alive (web servers, `studio worker`s) and how many takes each holds."
    live = svc.workers(studio)
    if not live:
        st.caption("Workers: none running. Queued takes wait for a worker (`studio worker`, or STUDIO_RUN_WORKER on).")
        return
    shown = ", ".join(
        f"{w.host} pid {w.pid} ({fmt.plural(w.jobs, 'take')}{', paused' if w.paused else ''})" for w in live
    )
    st.caption(f"Workers: {len(live)} live · {shown}")


def queue_section(studio: svc.Services) -> None:
    paused_banner(studio)
    workers_line(studio)
    active = svc.active_count(studio)
    st.subheader(f"Queue: {active} in progress" if active else "Queue")
    if not active:
        st.info("Nothing is running right now. Start a generation on the Create page.", icon="💤")
        st.page_link("pages/create.py", label="Go to Create", icon="✏️")
        with st.container(key="status_idle"):
            watch_for_new_jobs(studio)
        return
    ui.live(svc.active_ids(studio), render_queue, key="status_live", follow=False, queue=True)


def failures_section(studio: svc.Services) -> None:
    failed = svc.recent_failures(studio, limit=RECENT_FAILURES)
    if not failed:
        return
    st.subheader("Recently failed or cancelled")
    for gen in failed:
        with st.container(border=True, key=f"status_failed_{gen.id}"):
            c1, c2, c3 = st.columns([4, 4, 1], vertical_alignment="center")
            with c1:
                st.text(short(gen.prompt))
                st.caption(f"{gen.id} · {fmt.settings_line(gen)} · attempt {gen.attempt}")
            c2.markdown(f"**{fmt.status_label(gen.status)}**")
            c2.text(gen.error or "No reason given")
            with c3:
                if st.button("Retry", key=f"status_retry_{gen.id}", type="primary"):
                    ui.act(svc.retry, gen.id)


def strays_section(studio: svc.Services) -> None:
    "Runs the studio found on its agents and stopped: what a lost answer cost, never hidden."
    strays = svc.stray_runs(studio, limit=RECENT_STRAYS)
    if not strays:
        return
    st.subheader("Duplicate runs stopped")
    st.caption(
        "Runs that Mosaic started for a request whose answer was lost, found after the take had gone on "
        "with another run (or whose owner could not be proven). The studio cancels them so they stop billing."
    )
    for stray in strays:
        with st.container(border=True, key=f"status_stray_{stray['run_id']}"):
            c1, c2 = st.columns([4, 4])
            c1.text(f"Run {stray['run_id']}")
            c1.caption(f"take {stray['generation_id'] or 'deleted'} · found {fmt.when(stray['found_at'])}")
            c2.text(stray["reason"])
            ended = bool(stray["cancelled_at"])
            c2.caption(("Stopped: " if ended else "Still to cancel: ") + (stray["outcome"] or "cancel not sent yet"))


def exports_section(studio: svc.Services) -> None:
    "Recent exports, anyone's: their progress while built, links when ready, why one failed."
    jobs = svc.recent_exports(studio)
    if not jobs:
        return
    st.subheader("Exports")
    active = any(j.active for j in jobs)

    @st.fragment(run_every=ui.EXPORT_POLL_S if active else None)
    @ui.errors_shown_in
    def rows() -> None:
        last = st.session_state.get(EXPORTS_SEEN_KEY)
        seen = svc.look_again(studio, last, "recent", lambda: svc.recent_exports(studio), "exports")
        st.session_state[EXPORTS_SEEN_KEY] = seen
        now = seen.value
        for job in now:
            with st.container(border=True, key=f"status_export_{job.id}"):
                st.text(short(job.title))
                by = f" · by {ui.plain(job.created_by)}" if job.created_by else ""
                st.caption(f"{job.id} · {fmt.when(job.created_at)}{by}")
                ui.export_state(job)
        if active and not any(j.active for j in now):
            st.rerun()

    rows()


def spend_section(studio: svc.Services) -> None:
    "Today's spend (UTC day) by person, and the studio's total against its cap."
    limits = svc.caps(studio.settings)
    spends = svc.spend_today(studio)
    st.subheader("Today's spend")
    if not spends:
        st.caption("Nothing launched today (UTC).")
    rows = []
    for person, spend in spends.items():
        row = {"Person": person or NO_NAME, "Takes": spend.takes, "Seconds of video": round(spend.seconds, 1)}
        row["Tokens"] = round(spend.tokens)
        if spend.credits is not None:
            row["Credits"] = round(spend.credits, 2)
        if limits.person_day is not None:
            row["Share of the cap"] = f"{spend.amount(limits.unit) / limits.person_day:.0%}"
        rows.append(row)
    if rows:
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            key="status_spend",
            width="stretch",
            column_config={"Tokens": st.column_config.NumberColumn(format="localized")},
        )
    everyone = budget.total(spends, limits.rates)
    used = limits.text(everyone.amount(limits.unit), of_video=False)
    if limits.studio_day is not None:
        line = f"Studio today: {used} of its daily cap of {limits.text(limits.studio_day)}"
        st.progress(min(1.0, everyone.amount(limits.unit) / limits.studio_day), text=line)
    else:
        st.caption(f"Studio today: {used}; no studio cap set (STUDIO_CAP_STUDIO_DAY).")
    if limits.person_day is not None:
        st.caption(f"Each person's daily cap: {limits.text(limits.person_day)}. {RESET_NOTE}")


studio = ui.services()
st.title("Status")
st.caption("Which API the studio uses, whether it answers, and what is running now.")
api_section(studio)
queue_section(studio)
spend_section(studio)
failures_section(studio)
strays_section(studio)
exports_section(studio)
