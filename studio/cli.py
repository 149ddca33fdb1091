"""The `studio` command: serve the web app, run the simulator alone, generate from a shell.

`generate` and `grid` print progress to stderr and end stdout with one line of JSON, so
scripts can read the result; the exit status is 1 when any run failed, 3 when `--wait --timeout`
ran out with runs still going (they go on in the worker). Both take reference files
(`--image`, `--video`, `--audio`, repeatable), checked by `studio.references` before anything is
uploaded or queued, then added to the reference library once. `status` says whether the worker is
paused (disk full), lists the runs in flight (which are stuck), agents kept aside and stray runs. `share`
makes a read-only share link and prints it (or revokes or lists them). `worker` runs a job worker
until SIGTERM. Bad input (arguments,
params, settings) prints one `error: …` line and exits 2. Settings come from
`studio.settings.load`, the same loader as the web app.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, cast

from . import exports, references
from . import format as fmt
from . import services as svc
from . import settings as studio_settings
from .errors import ParamsError, StudioError
from .media_store import open_media
from .models import (
    ASPECT_RATIOS,
    DURATIONS,
    FINAL_STATUSES,
    MODELS,
    RESOLUTIONS,
    STATUSES,
    Generation,
    VideoGenerationParams,
)
from .references import ReferenceFacts
from .services import exports as export_jobs
from .services.grids import repeated
from .services.selections import SelectionKind
from .store import HistoryStore

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_FLAGS = ("image", "video", "audio")  # each flag is also the kind its files must be
DEFAULT_PORT = 8501
MAX_PORT = 65535
WAIT_TIMEOUT_S = 1800.0
# Before `--wait` exits with a run request unanswered, the worker looks this long for its late run
# (to cancel it); bounded so a script is never held for minutes, the next studio command looks on.
LATE_RUN_LOOK_S = 5.0
LATE_RUN_LOOK_STEP_S = 0.5
WORKER_CHECK_S = 1.0  # `studio worker` looks this often whether its worker thread still runs
RUN_FAILED_EXIT = 1
BAD_INPUT_EXIT = 2
WAIT_TIMEOUT_EXIT = 3
EXIT_STATUSES = f"""exit status:
  0  every run done (or nothing to wait for)
  {RUN_FAILED_EXIT}  a run failed or was cancelled
  {BAD_INPUT_EXIT}  bad input: arguments, settings, files (one `error: ...` line)
  {WAIT_TIMEOUT_EXIT}  --wait gave up after --timeout seconds; the runs still going keep going in the worker
"""


class _Parser(argparse.ArgumentParser):
    "argparse, but a usage mistake is one `error: …` line (and `--help` for the rest), exit 2."

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT_EXIT, f"error: {self.prog}: {message}\n")


def _error_line(err: StudioError) -> int:
    print(f"error: {fmt.one_line(str(err))}", file=sys.stderr)
    return BAD_INPUT_EXIT


def _csv(allowed: Sequence[str]):
    "A comma list of choices; a value listed twice is refused (it would be a second billable cell)."

    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)} (got {text!r})")
        if (twice := repeated(values)) is not None:
            raise argparse.ArgumentTypeError(f"{twice} is listed twice; each makes its own cells, so list it once")
        return values

    return parse


def _bounded_int(low: int, high: int):
    "A whole number from `low` to `high`, refused at parse time (before anything starts)."

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"a whole number from {low} to {high} (got {text!r})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"a whole number from {low} to {high} (got {text!r})")
        return value

    return parse


def _address(text: str) -> str:
    "A host name or IP address to listen on: not empty, no spaces."
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"an IP address or host name such as 0.0.0.0 (got {text!r})")
    return text


def _check_listen(address: str, port: int) -> None:
    """The server can listen on address:port: the address is this machine's and the port is free,
    tried by binding it (and letting go) the way the server will, so a mistake is one line here
    rather than a traceback from the server."""
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as err:
        raise ParamsError(f"--address {address}: not an IP address or host name of this machine ({err})") from None
    family, kind, proto, _, where = infos[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            sock.bind(where)
            sock.listen()
    except OSError as err:
        raise ParamsError(
            f"cannot listen on {address} port {port} (--address, --port): {err.strerror or err}"
        ) from None


def _seconds(text: str) -> float:
    "A number of seconds above 0 (`--timeout`), refused at parse time."
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"a number of seconds above 0 (got {text!r})")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="studio",
        description="Mosaic Prompt Studio",
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="launch the web app (worker starts at boot)")
    serve.add_argument("--port", type=_bounded_int(1, MAX_PORT), default=DEFAULT_PORT)
    serve.add_argument("--address", type=_address, default="0.0.0.0")

    sub.add_parser("simulate", help="run the local Mosaic simulator alone", add_help=False)

    def add_params(p: argparse.ArgumentParser) -> None:
        p.add_argument("prompt")
        p.add_argument("--duration", default="auto", choices=DURATIONS)
        p.add_argument("--no-audio", action="store_true", help="generate without an audio track")
        p.add_argument("--wait", action="store_true", help="wait for the result and print it")
        p.add_argument(
            "--timeout",
            type=_seconds,
            default=None,
            metavar="SECONDS",
            help=f"only with --wait (refused without it): give up waiting after this long, exit {WAIT_TIMEOUT_EXIT} "
            f"and say which runs are still going (they keep going in the worker); default {WAIT_TIMEOUT_S:g}",
        )
        for kind in REFERENCE_FLAGS:
            p.add_argument(
                f"--{kind}",
                action="append",
                type=Path,
                default=[],
                metavar="FILE",
                help=f"a reference {kind} (repeatable); checked as Seedance 2 checks it, uploaded once",
            )

    raw = argparse.RawDescriptionHelpFormatter
    gen = sub.add_parser("generate", help="generate one video", epilog=EXIT_STATUSES, formatter_class=raw)
    add_params(gen)
    gen.add_argument("--resolution", default="720p", choices=RESOLUTIONS)
    gen.add_argument("--aspect-ratio", default="auto", choices=ASPECT_RATIOS)
    gen.add_argument("--takes", type=_bounded_int(1, svc.MAX_TAKES), default=1)

    sub.add_parser(
        "status",
        help="takes in progress (which are stuck), whether the worker is paused (disk full), agents waiting on "
        "an unanswered request, stray runs",
    )

    grid = sub.add_parser(
        "grid",
        help="one prompt across resolutions x aspect ratios, submitted together",
        epilog=EXIT_STATUSES,
        formatter_class=raw,
    )
    add_params(grid)
    grid.add_argument("--resolutions", type=_csv(RESOLUTIONS), default=list(RESOLUTIONS))
    grid.add_argument("--aspect-ratios", type=_csv(ASPECT_RATIOS), default=list(ASPECT_RATIOS[1:]))
    _add_share_parser(sub)
    _export_parser(sub)
    _decisions_parser(sub)
    sub.add_parser("worker", help="run a job worker until SIGTERM (beside servers run with STUDIO_RUN_WORKER=0)")
    _migrate_parser(sub)
    return parser


# ---------------------------------------------------------------------- studio worker (issue 10 §2)


def _worker() -> int:
    """Run one job worker in this process until SIGTERM or Ctrl-C, then stop cleanly: the tasks in
    hand finish and its jobs are given back, so the other workers resume them at once."""
    try:
        services = svc.build_services(studio_settings.load(), start_worker=False)
    except StudioError as err:
        return _error_line(err)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        runner = services.runner.start()
        print(f"studio worker {runner.leases.id}: {services.mode_label}", file=sys.stderr, flush=True)
        print(f"studio worker {runner.leases.id}: {services.stores_label}", file=sys.stderr, flush=True)
        while runner.alive and not stop.wait(WORKER_CHECK_S):
            pass
    finally:
        services.close()
    return 0


# ---------------------------------------------------------------------- studio export (issue 8 §4, §5)

EXPORT_FILTERS = ("resolution", "aspect_ratio", "duration", "status", "model", "author", "audio", "starred")


def _export_parser(sub: Any) -> None:
    exp = sub.add_parser(
        "export",
        help="export a collection, a comparison or a gallery search as a ZIP (and a contact sheet, a comparison video)",
    )
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--collection", metavar="ID", help="a collection's id")
    which.add_argument("--grid", metavar="ID", help="a comparison's id")
    which.add_argument("--query", metavar="TEXT", help="a gallery search ('' for everything), with the filters below")
    exp.add_argument("--out", type=Path, required=True, metavar="FILE.zip", help="where to write the ZIP")
    exp.add_argument("--contact-sheet", type=Path, metavar="FILE.png", help="also write a contact sheet")
    exp.add_argument("--video", type=Path, metavar="FILE.mp4", help="also write the comparison video (--grid only)")
    filters = exp.add_argument_group("gallery filters (with --query; each repeatable, as in the Gallery)")
    filters.add_argument("--resolution", action="append", choices=RESOLUTIONS)
    filters.add_argument("--aspect-ratio", action="append", choices=ASPECT_RATIOS)
    filters.add_argument("--duration", action="append", choices=DURATIONS)
    filters.add_argument("--status", action="append", choices=STATUSES)
    filters.add_argument("--model", action="append", choices=MODELS)
    filters.add_argument("--author", action="append", metavar="NAME")
    filters.add_argument("--audio", choices=svc.GALLERY_AUDIO_CHOICES)
    filters.add_argument("--starred", action="store_true")
    filters.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="created on or after (UTC)")
    filters.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="created on or before (UTC)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a date such as 2026-01-31 (got {text!r})") from None


def _export_selection(args: argparse.Namespace) -> svc.Selection:
    "What `studio export` was asked for; filters without --query are a mistake, not ignored."
    used = [f for f in (*EXPORT_FILTERS, "since", "until") if getattr(args, f) not in (None, False, [])]
    if args.query is None:
        if used:
            raise ParamsError(f"--{used[0].replace('_', '-')} filters a gallery search: use it with --query")
        return svc.Selection("collection", args.collection) if args.collection else svc.Selection("grid", args.grid)
    values = {f: getattr(args, f) for f in (*EXPORT_FILTERS, "since", "until")}
    return svc.Selection.of_query(svc.gallery_query({**values, "q": args.query}))


def _export(args: argparse.Namespace) -> int:
    "Build the export in this process (no server needed) and end with one JSON line."
    try:
        selection = _export_selection(args)
        outputs = {"zip": args.out, "sheet": args.contact_sheet, "video": args.video}
        outputs = {k: v for k, v in outputs.items() if v is not None}
        if len({Path(p).resolve() for p in outputs.values()}) < len(outputs):
            raise ParamsError("--out, --contact-sheet and --video must be three different files")
        if args.video is not None and selection.kind != "grid":
            raise ParamsError("--video makes a comparison video: use it with --grid")
        for path in outputs.values():
            exports.check_writable(path)
        services = svc.build_services(studio_settings.load(), start_worker=False)
    except StudioError as err:
        return _error_line(err)
    try:
        selected, _kinds = export_jobs.checked(services, selection, list(outputs))
        started = time.monotonic()
        shown = [""]

        def progress(fraction: float, words: str) -> None:
            line = f"[{time.monotonic() - started:6.1f}s] {fraction:4.0%} {words}"
            if line[9:] != shown[0][9:]:
                print(line, file=sys.stderr, flush=True)
                shown[0] = line

        results = export_jobs.build(
            services, selected, outputs, exported_by=services.settings.author, progress=progress
        )
    except StudioError as err:
        return _error_line(err)
    finally:
        services.close()
    names = {"zip": "zip", "sheet": "contact_sheet", "video": "video"}
    summary: dict[str, Any] = {
        "selection": {"kind": selection.kind, "ref": selection.ref},
        "title": selected.title,
        "items": len(selected.items),
    }
    summary.update({names[k]: {**v, "path": str(Path(v["path"]).resolve())} for k, v in results.items()})
    print(json.dumps(summary))
    return 0


def _progress(services: svc.Services, started: float):
    last = [""]
    paused: list[str | None] = [None]

    def show(gens: list[Generation]) -> None:
        counts = Counter(g.status for g in gens)
        done = sum(counts[s] for s in FINAL_STATUSES)
        parts = [f"{n} {s}" for s, n in sorted(counts.items())]
        stuck = [w for w in svc.waits(services, [g.id for g in gens if g.status not in FINAL_STATUSES]) if w.stuck]
        if stuck:  # the longest-idle run's real time without progress, not the threshold it passed
            idle = max(w.idle_s or services.settings.stuck_after for w in stuck)
            parts.append(f"{len(stuck)} stuck (no progress for {fmt.elapsed(idle)})")
        line = f"[{time.monotonic() - started:6.1f}s] {done}/{len(gens)} finished · {', '.join(parts)}"
        if line[10:] != last[0][10:] or int(time.monotonic() - started) % 5 == 0:
            print(line, file=sys.stderr, flush=True)
            last[0] = line
        reason = svc.worker_paused(services)
        if reason != paused[0]:  # said once when it starts, once when it ends
            print(_paused_line(reason) if reason else "worker resumed: the disk has space again", file=sys.stderr)
            paused[0] = reason

    return show


def _paused_line(reason: str) -> str:
    return f"worker paused: {reason}; it resumes by itself once space is freed, nothing saved is lost"


def _finish(services: svc.Services, ids: list[str], args: argparse.Namespace, single: bool) -> int:
    if not args.wait:
        print(json.dumps(ids if not single else ids[0]))
        return 0
    gens = svc.wait_for(services, ids, timeout=args.timeout, on_progress=_progress(services, time.monotonic()))
    _look_for_late_runs(services)
    going = [g for g in gens if g.status not in FINAL_STATUSES]
    if going:
        listed = ", ".join(f"{g.id} ({g.status})" for g in going)
        print(
            f"timed out after {args.timeout:g} s; still going: {listed}. They keep going in the studio's worker "
            "(`studio serve`, or the next studio command); see `studio status`.",
            file=sys.stderr,
        )
        print(json.dumps([services.facts(g) for g in gens] if not single else services.facts(gens[0])))
        return WAIT_TIMEOUT_EXIT
    facts = [services.facts(g) for g in gens]
    for f in facts:
        if f["status"] == "done":
            print(
                f"{f['cell'] or f['id']}: {f['path']} {f['width']}x{f['height']} "
                f"{f['duration_s']:.1f}s audio={'yes' if f['has_audio'] else 'no'}",
                file=sys.stderr,
            )
        else:
            print(f"{f['cell'] or f['id']}: {f['status']}: {f['error'] or ''}", file=sys.stderr)
    print(json.dumps(facts[0] if single else facts))
    return 0 if all(g.status == "done" for g in gens) else RUN_FAILED_EXIT


def _look_for_late_runs(services: svc.Services) -> None:
    """A run request whose answer never came may still start a run on Mosaic: give the worker a last,
    bounded look for it (a run found is cancelled), then say so if any request is still unanswered."""
    deadline = time.monotonic() + LATE_RUN_LOOK_S
    while svc.agents_waiting(services) and time.monotonic() < deadline:
        services.runner.look_for_late_runs()
        time.sleep(LATE_RUN_LOOK_STEP_S)
    if left := svc.agents_waiting(services):
        print(
            f"{fmt.plural(left, 'run request')} had no answer; a late duplicate run may still appear on Mosaic: "
            "`studio serve` (or the next studio command) will find and cancel it",
            file=sys.stderr,
        )


def _checked_references(args: argparse.Namespace) -> list[tuple[ReferenceFacts, bytes]]:
    "Every reference file given, checked alone and together, read once; nothing is uploaded yet."
    chosen: list[tuple[ReferenceFacts, bytes]] = []
    seen: set[str] = set()
    for flag in REFERENCE_FLAGS:
        for path in getattr(args, flag):
            facts = references.check_file(path.name, path)
            if facts.kind != flag:
                raise ParamsError(
                    f"{facts.name} was given as --{flag} but is {'an' if facts.kind == 'image' else 'a'} "
                    f"{facts.kind if facts.kind != 'audio' else 'audio file'}; pass it with --{facts.kind}",
                    field="references",
                )
            try:
                data = path.read_bytes()
            except OSError as err:  # it changed or vanished since it was checked
                raise ParamsError(f"Cannot read {path.name}: {err.strerror or err}", field="references") from err
            digest = hashlib.sha256(data).hexdigest()
            if digest not in seen:  # the same file twice is one reference
                seen.add(digest)
                chosen.append((facts, data))
    references.check_selection([facts for facts, _ in chosen])
    return chosen


def _upload_references(services: svc.Services, chosen: list[tuple[ReferenceFacts, bytes]]) -> dict[str, list[str]]:
    "Add each checked file to the reference library (uploaded once); returns the selected_context."
    context: dict[str, list[str]] = {key: [] for key in references.CONTEXT_KEYS.values()}
    for facts, data in chosen:
        result = svc.upload_reference(services, facts.name, data)
        print(f"reference: {fmt.one_line(result.message())}", file=sys.stderr)
        context[facts.context_key].append(result.reference.upload_id)
    return context


def _status() -> int:
    """Print what the studio holds: whether the worker is paused (disk full), takes in progress (which
    are stuck), agents waiting, and runs no take follows."""
    try:
        services = svc.build_services(studio_settings.load(), start_worker=False)
    except StudioError as err:
        return _error_line(err)
    try:
        reason = svc.worker_paused(services)
        print(_paused_line(reason) if reason else "worker: not paused")
        live = svc.workers(services)  # every process's (issue 10 §2)
        print(f"workers: {len(live)} live" + "".join(f"\n  {w.id}: {fmt.plural(w.jobs, 'take')} held" for w in live))
        print(f"takes in progress: {svc.active_count(services)}")
        for wait in svc.queue_waits(services):  # one line each: its phase, how long, stuck or not
            stuck = " [STUCK]" if wait.stuck else ""
            print(f"  {wait.gen.id}{stuck} {fmt.settings_line(wait.gen)} · {wait.describe()}")
        waiting = svc.agents_waiting(services)
        if waiting:
            print(f"{waiting} agent(s) kept aside until Mosaic's answer to their last run request is known")
        strays = svc.stray_runs(services)
        print(f"stray runs (found on our agents, followed by no take): {len(strays)}")
        for s in strays:
            state = _stray_state(s)
            print(f"  run {s['run_id']} (take {s['generation_id']}, agent {s['agent_id']}): {s['reason']}; {state}")
    except StudioError as err:
        return _error_line(err)
    finally:
        services.close()
    return 0


def _stray_state(stray: dict[str, Any]) -> str:
    "What became of a stray: cancelled, already ended (billed what it ran), or still to cancel."
    outcome, at = stray.get("outcome") or "", stray["cancelled_at"]
    if not at:
        return f"NOT cancelled yet ({outcome})" if outcome else "NOT cancelled yet"
    return f"cancelled {at}" if outcome in ("", "cancelled") else f"{outcome} (settled {at})"


# ---------------------------------------------------------------------- studio share (issue 8 §3, §5)

SHARE_SELECTIONS = ("collection", "grid", "generation", "query")
FALLBACK_SHARE_BASE = f"http://localhost:{DEFAULT_PORT}"


def _expiry(text: str) -> str:
    "never, 1d, 7d, 30d or YYYY-MM-DD (a date in the past is refused once the clock is read)."
    value = text.strip()
    if value in svc.EXPIRY_CHOICES or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    raise argparse.ArgumentTypeError(f"never, 1d, 7d, 30d or a date as YYYY-MM-DD (got {text!r})")


def _add_share_parser(sub: Any) -> None:
    share = sub.add_parser(
        "share",
        help="make a read-only share link (prints it), revoke one, or list them",
        description="A read-only link to a collection, a comparison, one take or a gallery search; "
        "the last line of output is JSON.",
    )
    what = share.add_mutually_exclusive_group(required=True)
    what.add_argument("--collection", metavar="ID")
    what.add_argument("--grid", metavar="ID", help="a comparison")
    what.add_argument("--generation", metavar="ID", help="one take")
    what.add_argument("--query", metavar="TEXT", help="a gallery search: the takes whose prompt, notes or tags match")
    what.add_argument("--revoke", metavar="TOKEN_OR_URL", help="end a link now (it answers 410 from then on)")
    what.add_argument("--list", action="store_true", help="every link, newest first (revoked and expired too)")
    share.add_argument("--expires", type=_expiry, default="never", help="never (default), 1d, 7d, 30d or YYYY-MM-DD")
    share.add_argument("--no-download", action="store_true", help="the page plays the videos but offers no download")


def _share_json(link: svc.ShareLink, now: Any) -> dict[str, Any]:
    return {
        "id": link.id,
        "kind": link.selection.kind,
        "ref": link.selection.ref,
        "hint": link.hint,
        "created_by": link.created_by,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "allow_download": link.allow_download,
        "revoked_at": link.revoked_at,
        "state": link.state(now),
    }


def _share(args: argparse.Namespace) -> int:
    "studio share: make a link and print it, revoke one, or list them; the last stdout line is JSON."
    making = not args.list and args.revoke is None
    if not making and (args.expires != "never" or args.no_download):
        print("error: --expires and --no-download go with a link being made, not --revoke or --list", file=sys.stderr)
        return BAD_INPUT_EXIT
    if args.query is not None and not args.query.strip():
        print("error: --query needs words to search for (an empty search would share every take)", file=sys.stderr)
        return BAD_INPUT_EXIT
    try:
        services = svc.build_services(studio_settings.load(), start_worker=False)
    except StudioError as err:
        return _error_line(err)
    try:
        links = svc.ShareLinks(services)
        if args.list:
            found = links.list()
            now = links.now()
            for link in found:
                print(f"{link.selection.kind} {link.selection.ref[:60]} · {link.describe(now)}")
            print(json.dumps([_share_json(link, now) for link in found]))
            return 0
        if args.revoke is not None:
            link = links.revoke(links.find(args.revoke).id)
            print(f"revoked: {link.selection.kind} {link.selection.ref[:60]} · {link.describe(links.now())}")
            print(json.dumps(_share_json(link, links.now())))
            return 0
        kind = next(k for k in SHARE_SELECTIONS if getattr(args, k) is not None)
        ref = getattr(args, kind)
        query = svc.GalleryQuery(text=ref) if kind == "query" else None
        selection = svc.Selection.of_query(query) if query else svc.Selection(cast(SelectionKind, kind), ref)
        new = links.create(
            selection, expires=args.expires, allow_download=not args.no_download, created_by=services.settings.author
        )
        base = services.settings.share_url or services.settings.public_url
        if base is None:
            base = FALLBACK_SHARE_BASE
            print(f"note: set STUDIO_SHARE_URL to the address others open the studio at; using {base}", file=sys.stderr)
        url = new.url(base)
        print(url)
        print(json.dumps({"url": url, **_share_json(new.link, links.now())}))
        return 0
    except StudioError as err:
        return _error_line(err)
    finally:
        services.close()


# ---------------------------------------------------------------------- studio decisions (issue 9 §2)


def _decisions_parser(sub: Any) -> None:
    dec = sub.add_parser(
        "decisions", help="what the blind votes say: per setting and value, win rate, 95 %% interval, cost, time"
    )
    dec.add_argument("--tag", metavar="T", help="only votes on takes carrying this tag")
    dec.add_argument("--collection", metavar="ID", help="only votes on takes in this collection")
    dec.add_argument("--author", metavar="A", help="only votes on takes this person made")
    dec.add_argument("--voter", metavar="V", help="only this person's votes")
    dec.add_argument("--since", metavar="YYYY-MM-DD", help="votes cast on or after (UTC)")
    dec.add_argument("--until", metavar="YYYY-MM-DD", help="votes cast on or before (UTC)")
    dec.add_argument("--json", action="store_true", help="print the table as one JSON object")


def _decision_lines(table: svc.Decisions) -> list[str]:
    "The table as text: per setting, its sentence, then one aligned row per value."
    worth = "per credit" if table.credit_rates else "per 1k tokens"
    lines = [f"{fmt.plural(table.votes, 'vote')} from {fmt.plural(len(table.voters), 'voter')}"]
    head = ("value", "win rate", "95 % CI", "votes", "W/L/T", "cost per s", "median time", f"win rate {worth}")
    for section in table.settings:
        lines += ["", f"{section.name}: {section.verdict.sentence}"]
        if not section.rows:
            continue
        rows = [head]
        for r in section.rows:
            rate = "—" if r.win_rate is None else f"{r.win_rate:.0%}"
            ci = "—" if r.win_rate is None else f"{r.ci_low:.0%}–{r.ci_high:.0%}"
            cost = f"{r.tokens_per_second:,.0f} tokens" + (
                f" = {r.credits_per_second:g} credits" if r.credits_per_second is not None else ""
            )
            ratio = r.win_rate_per_credit if table.credit_rates else r.win_rate_per_1k_tokens
            rows.append(
                (
                    r.label,
                    rate,
                    ci,
                    str(r.votes),
                    f"{r.wins}/{r.losses}/{r.ties}",
                    cost,
                    fmt.elapsed(r.median_time_s),
                    "—" if ratio is None else f"{ratio:.3f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def _decisions(args: argparse.Namespace) -> int:
    "Print what the votes say (a text table, or the service's table as JSON); bad filters exit 2."
    values = {k: getattr(args, k) for k in svc.DECISION_PARAMS if getattr(args, k) is not None}
    try:
        services = svc.build_services(studio_settings.load(), start_worker=False)
    except StudioError as err:
        return _error_line(err)
    try:
        table = svc.decisions(services, svc.decision_filters(services, values))
    except StudioError as err:
        return _error_line(err)
    finally:
        services.close()
    print(json.dumps(table.as_json()) if args.json else "\n".join(_decision_lines(table)))
    return 0


# ---------------------------------------------------------------------- migrate (studio.moving)

MOVE_MISMATCH_EXIT = 1
MOVE_INTERRUPTED_EXIT = 130  # as a shell reports a command stopped by Ctrl-C (128 + SIGINT)
MOVE_PROGRESS_EVERY_S = 10.0  # at most one progress line this often in a log (not a terminal)


def _migrate_parser(sub: Any) -> None:
    mig = sub.add_parser(
        "migrate",
        help="copy this studio's history and media into PostgreSQL and S3 (resumable, verified)",
        description="Copy the configured studio's history and media into the stores named (this studio is not "
        "changed). Run it again to finish a move that stopped; a second run copies nothing. Ends with one JSON "
        f"line; exit 0 when every table's rows and every file's sha256 match, {MOVE_MISMATCH_EXIT} when not, "
        f"{BAD_INPUT_EXIT} for a target that cannot be used (one error line), {MOVE_INTERRUPTED_EXIT} when "
        'stopped by Ctrl-C (the JSON line says what was done so far, with "stopped": true).',
    )
    mig.add_argument(
        "--to-database",
        metavar="URL",
        help="postgresql://user@host:port/db, the password in PGPASSWORD or ~/.pgpass (or sqlite:///FILE)",
    )
    mig.add_argument("--to-media", metavar="URL", help="s3://bucket/prefix (AWS_* variables for the endpoint and keys)")


class _MoveProgress:
    """`studio migrate`'s progress on stderr: on a terminal one line rewritten in place; otherwise
    (a log file) a plain line when each table or the media starts, then at most one every
    MOVE_PROGRESS_EVERY_S."""

    def __init__(self) -> None:
        self.rewrite = sys.stderr.isatty()
        self.phase = ""
        self.last = -math.inf
        self.open = False  # a rewritten line waits for its newline

    def __call__(self, line: str) -> None:
        phase, now = line.split(":", 1)[0], time.monotonic()
        if self.rewrite:
            print(f"\rstudio migrate: {line}\033[K", end="", file=sys.stderr, flush=True)
            self.open = True
        elif phase != self.phase or now - self.last >= MOVE_PROGRESS_EVERY_S:
            print(f"studio migrate: {line}", file=sys.stderr, flush=True)
            self.phase, self.last = phase, now

    def end(self) -> None:
        "End the rewritten line, so what follows starts on its own."
        if self.open:
            print("", file=sys.stderr, flush=True)
            self.open = False


def _migrate(args: argparse.Namespace) -> int:
    from . import moving

    progress = _MoveProgress()
    report = None
    try:
        move = moving.open_move(
            studio_settings.load(), to_database=args.to_database, to_media=args.to_media, progress=progress
        )
        try:
            with moving.flags_named():
                report = move.run()
        finally:
            move.close()
    except StudioError as err:
        progress.end()
        return _error_line(err)
    except KeyboardInterrupt:  # while opening the stores or counting: nothing more is known
        report = moving.MoveReport(source={}, target={}, stopped=True, interrupted=True)
    progress.end()
    settings = moving.next_settings(args.to_database, args.to_media)
    print(json.dumps({**report.as_json(), "next": settings}), flush=True)
    if report.interrupted:
        print(f"studio migrate: {moving.INTERRUPTED}", file=sys.stderr)
        return MOVE_INTERRUPTED_EXIT
    if report.ok:
        print("studio migrate: every row and file verified. To run the studio on the new stores, set", file=sys.stderr)
        for name, value in settings.items():
            print(f"  {name}={value}", file=sys.stderr)
        print(moving.AFTER_MOVE, file=sys.stderr, flush=True)
    return 0 if report.ok else MOVE_MISMATCH_EXIT


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["simulate"]:
        # Become the simulator's own command line (`python -m studio.simulator`): the wiring module
        # stays the only importer of the simulator, and signals reach the server directly.
        os.execv(sys.executable, [sys.executable, "-m", "studio.simulator", *argv[1:]])
    args = _parser().parse_args(argv)
    if args.command == "serve":
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "asgi_app.py"),
            "--server.port",
            str(args.port),
            "--server.address",
            args.address,
            "--server.headless",
            "true",
        ]
        try:
            _check_listen(args.address, args.port)
            settings = studio_settings.load()
            # The history is opened (and migrated) once here, so a damaged or newer database is one
            # line and exit 2 where the command was typed, not a server that cannot start.
            history = HistoryStore.for_settings(settings)
            history.close()
            media = open_media(settings)
            media.check()  # likewise a bucket that is missing, refused or unreachable
        except StudioError as err:
            return _error_line(err)
        print(f"studio serve: {svc.stores_label(history.described, media.described)}", file=sys.stderr, flush=True)
        # Settings (the data folder, a key from this folder's .streamlit/secrets.toml) are read here,
        # where the command was typed, and handed on: the server runs from the checkout.
        env = {**os.environ, **studio_settings.as_environment(settings)}
        os.chdir(ROOT)
        os.execve(sys.executable, cmd, env)  # become the server: signals reach it directly
    if args.command == "status":
        return _status()
    if args.command == "worker":
        return _worker()
    if args.command == "share":
        return _share(args)
    if args.command == "export":
        return _export(args)
    if args.command == "decisions":
        return _decisions(args)
    if args.command == "migrate":
        return _migrate(args)
    if args.timeout is not None and not args.wait:  # a limit on a wait that will not happen is a mistake
        print("error: --timeout limits --wait; add --wait (or drop --timeout)", file=sys.stderr)
        return BAD_INPUT_EXIT
    if args.timeout is None:
        args.timeout = WAIT_TIMEOUT_S
    audio = not args.no_audio
    try:  # check the input before anything starts
        if args.command == "generate":
            params = VideoGenerationParams.parse(
                prompt=args.prompt,
                resolution=args.resolution,
                aspect_ratio=args.aspect_ratio,
                duration=args.duration,
                generate_audio=audio,
            )
        else:
            params = VideoGenerationParams.parse(prompt=args.prompt, duration=args.duration, generate_audio=audio)
        chosen = _checked_references(args)
        services = svc.build_services(studio_settings.load())
    except StudioError as err:
        return _error_line(err)
    try:
        print(f"studio: {services.mode_label}", file=sys.stderr)
        if args.command == "generate":  # a daily cap refuses here, before any reference is uploaded
            svc.check_launch(services, [params] * args.takes, services.settings.author)
        else:
            cells = svc.grid_cells(params, resolutions=args.resolutions, aspect_ratios=args.aspect_ratios)
            svc.check_launch(services, [p for p, _ in cells], services.settings.author, what="comparison")
        if chosen:
            context = _upload_references(services, chosen)
            params = VideoGenerationParams.parse({**params.model_dump(), "selected_context": context})
        if args.command == "generate":
            ids = svc.generate(services, params, takes=args.takes)
            return _finish(services, ids, args, single=args.takes == 1)
        grid_id, ids = svc.start_grid(services, params, resolutions=args.resolutions, aspect_ratios=args.aspect_ratios)
        print(f"grid {grid_id}: {len(ids)} cells submitted together", file=sys.stderr)
        return _finish(services, ids, args, single=False)
    except StudioError as err:
        return _error_line(err)
    finally:
        services.close()


if __name__ == "__main__":
    sys.exit(main())
