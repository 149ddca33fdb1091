"""Comparisons (grids): plan the cells of one prompt across settings, launch them together (once
per click, by launch key), reopen a saved comparison, lay it out, pick its winner, and set two
takes side by side (A/B). Pages read a form into `GridForm` and render what these return.

A value listed twice on an axis is refused, never silently dropped: it would be a second billable
cell identical to the first, and a person who typed it twice likely meant another value."""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import costs
from .. import format as fmt
from ..costs import Estimate
from ..errors import ParamsError, StudioError
from ..models import (
    ASPECT_RATIOS,
    DURATIONS,
    PROMPT_MAX_CHARS,
    RESOLUTIONS,
    Generation,
    NodeSettings,
    VideoGenerationParams,
)
from .app import Services
from .estimates import estimate

MAX_CELLS = 60  # one comparison stays reviewable on a screen (and in a budget)
# The audio choices a comparison offers, as the values each one runs.
AUDIO_CHOICES: dict[str, tuple[bool, ...]] = {
    "On": (True,),
    "Off": (False,),
    "Both (compare on and off)": (True, False),
}
DEFAULT_AUDIO_CHOICE = "On"
# The fields of the new-comparison form a plan can find wrong ("cells" is the grid's size).
FORM_FIELDS = ("prompt", "resolutions", "aspect_ratios", "durations", "variants", "cells")
# Each axis of `start_grid` as a person names one of its values.
AXIS_NOUNS = {
    "resolutions": "resolution",
    "aspect_ratios": "aspect ratio",
    "durations": "duration",
    "audio": "audio setting",
    "prompts": "prompt",
}


def repeated(values: Sequence[Any]) -> Any | None:
    "The first value listed twice (prompts compared without surrounding spaces), or None."
    seen: set[Any] = set()
    for value in values:
        key = value.strip() if isinstance(value, str) else value
        if key in seen:
            return value
        seen.add(key)
    return None


def repeat_problem(axis: str, values: Sequence[Any]) -> str | None:
    "Why an axis cannot be launched as given because a value repeats (None when none does)."
    value = repeated(values)
    if value is None:
        return None
    if isinstance(value, bool):
        shown = "on" if value else "off"
    elif isinstance(value, str):
        shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}…"
    else:
        shown = str(value)
    return f"The {AXIS_NOUNS[axis]} {shown} is listed twice; each value makes its own billable cells, so list it once."


def cell_label(params: VideoGenerationParams, axes: Sequence[str], prompts: Sequence[str] = ()) -> str:
    "A grid cell's name from the values of the axes it varies, e.g. 'prompt 2 · 720p · 9:16'."
    variant = prompts.index(params.prompt) + 1 if params.prompt in prompts else 1
    names = {
        "resolution": params.resolution,
        "aspect_ratio": params.aspect_ratio,
        "duration": f"{params.duration}s" if params.duration != "auto" else "auto",
        "generate_audio": "audio" if params.generate_audio else "no audio",
        "prompt": f"prompt {variant}",
    }
    return " · ".join(names[a] for a in axes)


def grid_cells(
    base: VideoGenerationParams,
    *,
    resolutions: Sequence[str] = (),
    aspect_ratios: Sequence[str] = (),
    durations: Sequence[str] = (),
    audio: Sequence[bool] = (),
    prompts: Sequence[str] = (),
) -> list[tuple[VideoGenerationParams, str]]:
    "Every combination of the given axes (empty axes keep the base value), with a label per cell."
    axes: dict[str, list[Any]] = {
        "prompt": list(prompts),
        "duration": list(durations),
        "generate_audio": list(audio),
        "resolution": list(resolutions),
        "aspect_ratio": list(aspect_ratios),
    }
    varied = [
        name for name, values in axes.items() if len(values) > 1 or (values and name in ("resolution", "aspect_ratio"))
    ]
    values = [axes[name] or [getattr(base, name)] for name in axes]
    cells = []
    for combo in itertools.product(*values):
        data = base.model_dump()
        data.update(dict(zip(axes, combo, strict=False)))
        params = VideoGenerationParams.parse(data)
        cells.append((params, cell_label(params, varied, prompts)))
    return cells


def start_grid(
    services: Services,
    base: VideoGenerationParams,
    *,
    resolutions: Sequence[str] = RESOLUTIONS,
    aspect_ratios: Sequence[str] = ASPECT_RATIOS[1:],
    durations: Sequence[str] = (),
    audio: Sequence[bool] = (),
    prompts: Sequence[str] = (),
    name: str = "",
    author: str | None = None,
    launch_key: str | None = None,
) -> tuple[str, list[str]]:
    """Save a comparison and queue all of its cells together; returns (grid id, generation ids).

    A `launch_key` makes the launch idempotent: the same key again returns the same grid. Refuses
    (ParamsError naming the axis) an empty resolution or ratio list, a value listed twice on any
    axis, and more than MAX_CELLS cells, before anything is saved.
    """
    given: dict[str, list[Any]] = {
        "resolutions": list(resolutions),
        "aspect_ratios": list(aspect_ratios),
        "durations": list(durations),
        "audio": list(audio),
        "prompts": list(prompts),
    }
    for axis in ("resolutions", "aspect_ratios"):
        if not given[axis]:
            raise ParamsError(f"Pick at least one {AXIS_NOUNS[axis]}.", field=axis)
    for axis, values in given.items():
        if problem := repeat_problem(axis, values):
            raise ParamsError(problem, field=axis)
    count = math.prod(max(1, len(values)) for values in given.values())
    if count > MAX_CELLS:
        raise ParamsError(f"That is {count} cells; one comparison holds at most {MAX_CELLS}.", field="cells")
    cells = grid_cells(
        base, resolutions=resolutions, aspect_ratios=aspect_ratios, durations=durations, audio=audio, prompts=prompts
    )
    grid_id, ids = services.store.add_grid(
        prompt=base.prompt,
        axes=given,
        cells=cells,
        name=name,
        author=author if author is not None else services.settings.author,
        launch_key=launch_key,
    )
    services.runner.wake()
    return grid_id, ids


# ---------------------------------------------------------------------- planning a new comparison


@dataclass(frozen=True)
class GridForm:
    "What the new-comparison form holds; its defaults are the form's first values."

    prompt: str = ""
    resolutions: tuple[str, ...] = ("720p",)
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16")
    durations: tuple[str, ...] = ("5",)
    audio: str = DEFAULT_AUDIO_CHOICE  # a key of AUDIO_CHOICES
    variants: str = ""  # other wordings of the prompt, one per line
    name: str = ""


@dataclass(frozen=True)
class GridPlan:
    "What a form asks for: its cells, their count and cost, and a message per field that is wrong."

    form: GridForm
    count: int
    breakdown: str  # e.g. "2 resolutions × 3 aspect ratios × audio on/off"
    errors: Mapping[str, str]  # field (FORM_FIELDS) -> what is wrong with it
    prompts: tuple[str, ...]  # the main prompt and its variants; empty when there are no variants
    audio: tuple[bool, ...]
    cells: tuple[NodeSettings, ...]  # every cell's settings (what the estimate prices)
    estimate: Estimate | None  # None when the grid cannot be launched as it is
    confirm_above: int  # more cells than this need an explicit yes

    @property
    def needs_confirm(self) -> bool:
        return self.estimate is not None and self.count > self.confirm_above

    @property
    def launchable(self) -> bool:
        return not self.errors

    @property
    def cost_notes(self) -> list[str]:
        "Each resolution's cost next to 720p, from the token model (known without a credit rate)."
        resolutions = sorted({c.resolution for c in self.cells}, key=RESOLUTIONS.index)
        return [costs.cost_note(r) for r in resolutions]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _variants(text: str, prompt: str) -> tuple[list[str], str | None]:
    "Prompt variants, one per line, and the first problem with them (blank, too long or repeated)."
    if not text.strip():
        return [], None
    seen = {prompt.strip(): "the main prompt"}
    out = []
    for number, raw in enumerate(text.strip("\n").splitlines(), start=1):
        line = raw.strip()
        if not line:
            return [], f"Line {number} is blank: write a variant there or delete the line."
        if len(line) > PROMPT_MAX_CHARS:
            return [], f"Line {number} is {len(line):,} characters; the limit is {PROMPT_MAX_CHARS:,}."
        if line in seen:
            return [], f"Line {number} repeats {seen[line]}; each variant must be different."
        seen[line] = f"line {number}"
        out.append(line)
    return out, None


def prompt_problem(prompt: str) -> str | None:
    "What is wrong with a comparison's prompt, in words (None when it is fine)."
    try:
        VideoGenerationParams.parse(prompt=prompt)
    except StudioError as err:
        return str(err)
    return None


def _breakdown(form: GridForm, audio: Sequence[bool], n_prompts: int) -> str:
    parts = [_count(len(form.resolutions), "resolution"), _count(len(form.aspect_ratios), "aspect ratio")]
    if len(form.durations) > 1:
        parts.append(f"{len(form.durations)} durations")
    if len(audio) > 1:
        parts.append("audio on/off")
    if n_prompts > 1:
        parts.append(f"{n_prompts} prompts")
    return " × ".join(parts)


def _sorted(values: Collection[str], order: Sequence[str]) -> tuple[str, ...]:
    "The chosen values in the studio's order (columns low to high, rows wide to tall), unknown ones dropped."
    return tuple(v for v in order if v in values)


def plan_grid(services: Services, form: GridForm) -> GridPlan:
    "Check a new comparison and price it; launching takes the plan as it is."
    errors: dict[str, str] = {}
    if problem := prompt_problem(form.prompt):
        errors["prompt"] = problem
    resolutions = _sorted(form.resolutions, RESOLUTIONS)
    ratios = _sorted(form.aspect_ratios, ASPECT_RATIOS)
    durations = _sorted(form.durations, DURATIONS)
    if not resolutions:
        errors["resolutions"] = "Pick at least one resolution: each one becomes a column."
    if not ratios:
        errors["aspect_ratios"] = "Pick at least one aspect ratio: each one becomes a row."
    for axis, allowed in (("resolutions", RESOLUTIONS), ("aspect_ratios", ASPECT_RATIOS), ("durations", DURATIONS)):
        chosen = getattr(form, axis)
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            errors[axis] = f"There is no {AXIS_NOUNS[axis]} {unknown[0]!r}; choose from {', '.join(allowed)}."
        elif problem := repeat_problem(axis, chosen):
            errors[axis] = problem
    variants, problem = _variants(form.variants, form.prompt)
    if problem:
        errors["variants"] = problem
    audio = AUDIO_CHOICES.get(form.audio, AUDIO_CHOICES[DEFAULT_AUDIO_CHOICE])
    prompts = (form.prompt.strip(), *variants) if variants else ()
    count = len(resolutions) * len(ratios) * max(1, len(durations)) * len(audio) * max(1, len(prompts))
    if count > MAX_CELLS:
        errors["cells"] = (
            f"That is {count} cells; one comparison holds at most {MAX_CELLS}. "
            "Pick fewer resolutions, ratios, durations or variants."
        )
    cells: tuple[NodeSettings, ...] = ()
    if count and "cells" not in errors:
        cells = tuple(
            NodeSettings(resolution=r, aspect_ratio=a, duration=d, generate_audio=s)
            for _ in range(max(1, len(prompts)))
            for d in durations or (NodeSettings().duration,)
            for s in audio
            for r in resolutions
            for a in ratios
        )
    return GridPlan(
        form=form,
        count=count,
        breakdown=_breakdown(form, audio, max(1, len(prompts))),
        errors=errors,
        prompts=prompts,
        audio=audio,
        cells=cells,
        estimate=estimate(services, cells) if cells else None,
        confirm_above=services.settings.confirm_above_cells,
    )


def launch_grid(
    services: Services,
    plan: GridPlan,
    *,
    confirmed: bool = False,
    launch_key: str | None = None,
    author: str | None = None,
) -> tuple[str, list[str]]:
    """Launch a planned comparison; returns (grid id, generation ids).

    Refuses (ParamsError, `field` naming the first wrong field, or "confirm") a plan with errors, or
    one above the confirmation threshold without `confirmed`. The same `launch_key` twice makes one
    comparison: the second call returns the first one's ids."""
    for name in FORM_FIELDS:
        if name in plan.errors:
            raise ParamsError(plan.errors[name], field=name)
    if plan.needs_confirm and not confirmed:
        raise ParamsError(
            f"This comparison runs {plan.count} cells, more than {plan.confirm_above}: tick the box above to confirm.",
            field="confirm",
        )
    form = plan.form
    base = VideoGenerationParams.parse(prompt=form.prompt.strip(), generate_audio=plan.audio[0])
    return start_grid(
        services,
        base,
        resolutions=_sorted(form.resolutions, RESOLUTIONS),
        aspect_ratios=_sorted(form.aspect_ratios, ASPECT_RATIOS),
        durations=_sorted(form.durations, DURATIONS),
        audio=plan.audio,
        prompts=plan.prompts,
        name=form.name.strip(),
        author=author,
        launch_key=launch_key,
    )


def form_of(grid: Mapping[str, Any]) -> GridForm:
    "The new-comparison form filled from a saved comparison (its prompt, axes and variants)."
    axes = grid.get("axes") or {}
    audio = tuple(sorted(set(axes.get("audio") or [True]), reverse=True))
    prompt = grid.get("prompt") or ""
    return GridForm(
        prompt=prompt,
        resolutions=_sorted(axes.get("resolutions", []), RESOLUTIONS),
        aspect_ratios=_sorted(axes.get("aspect_ratios", []), ASPECT_RATIOS),
        durations=_sorted(axes.get("durations", []), DURATIONS),
        audio=next((k for k, v in AUDIO_CHOICES.items() if v == audio), DEFAULT_AUDIO_CHOICE),
        variants="\n".join(p for p in axes.get("prompts", []) if p != prompt),
    )


# ---------------------------------------------------------------------- a saved comparison


def grids(services: Services, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    return services.store.grids(limit=limit, offset=offset)


def grid(services: Services, grid_id: str) -> tuple[dict[str, Any] | None, list[Generation]]:
    "A saved comparison and its cells (None, [] when unknown)."
    found = services.store.get_grid(grid_id)
    return (found, services.store.grid_cells(grid_id)) if found else (None, [])


@dataclass(frozen=True)
class GridTab:
    "One resolution × aspect-ratio table of a comparison: all of it, or one tab when more axes vary."

    title: str  # what this tab holds, e.g. "Prompt 2 · audio off"; "" when the grid has one table
    prompt: str | None  # this tab's prompt when the comparison's prompts differ
    resolutions: tuple[str, ...]  # the columns
    aspect_ratios: tuple[str, ...]  # the rows
    cells: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (ratio, resolution) -> gen id

    def at(self, aspect_ratio: str, resolution: str) -> str | None:
        return self.cells.get((aspect_ratio, resolution))


def _tab_title(gen: Generation, prompts: list[str], vary: dict[str, bool]) -> str:
    parts = []
    if vary["prompt"]:
        parts.append(f"Prompt {prompts.index(gen.prompt) + 1}")
    if vary["duration"]:
        parts.append("auto length" if gen.duration == "auto" else f"{gen.duration} s")
    if vary["audio"]:
        parts.append("audio on" if gen.generate_audio else "audio off")
    return " · ".join(parts)


def grid_layout(cells: Sequence[Generation]) -> list[GridTab]:
    "Where each cell sits: one table (resolutions as columns, ratios as rows) per prompt, duration and audio."
    prompts = list(dict.fromkeys(g.prompt for g in cells))
    vary = {
        "prompt": len(prompts) > 1,
        "duration": len({g.duration for g in cells}) > 1,
        "audio": len({g.generate_audio for g in cells}) > 1,
    }
    groups: dict[str, list[Generation]] = {}
    for gen in cells:
        groups.setdefault(_tab_title(gen, prompts, vary), []).append(gen)
    return [
        GridTab(
            title=title,
            prompt=members[0].prompt if vary["prompt"] else None,
            resolutions=_sorted({g.resolution for g in members}, RESOLUTIONS),
            aspect_ratios=_sorted({g.aspect_ratio for g in members}, ASPECT_RATIOS),
            cells={(g.aspect_ratio, g.resolution): g.id for g in members},
        )
        for title, members in groups.items()
    ]


# ---------------------------------------------------------------------- the winner


def mark_winner(services: Services, gen_id: str) -> None:
    "Make this cell its comparison's winner (the one winner: any other loses it). Stars are left alone."
    gen = services.store.get(gen_id)
    if gen is None or not gen.grid_id:
        raise ParamsError("Only a cell of a comparison can be its winner")
    services.store.set_winner(gen.grid_id, gen_id)


def clear_winner(services: Services, grid_id: str) -> None:
    "Leave this comparison without a winner."
    if services.store.get_grid(grid_id) is None:
        raise ParamsError("There is no such comparison: it may have been deleted")
    services.store.set_winner(grid_id, None)


# ---------------------------------------------------------------------- A/B


def ab_candidates(cells: Sequence[Generation]) -> list[tuple[str, str]]:
    "The takes of a comparison to pick for A/B, as (generation id, name), in the order the grid shows them."
    prompts = list(dict.fromkeys(c.prompt for c in cells))
    order = {gen_id: n for n, gen_id in enumerate(i for tab in grid_layout(cells) for i in _table_order(tab))}
    out = []
    for gen in sorted(cells, key=lambda g: order[g.id]):
        name = fmt.settings_line(gen)
        out.append((gen.id, f"Prompt {prompts.index(gen.prompt) + 1} · {name}" if len(prompts) > 1 else name))
    return out


def _table_order(tab: GridTab) -> list[str]:
    "A table's cells row by row."
    return [i for ratio in tab.aspect_ratios for res in tab.resolutions if (i := tab.at(ratio, res))]


def shared_grid(services: Services, a_id: str, b_id: str) -> str | None:
    "The comparison both takes belong to, if they are cells of the same one."
    a, b = services.store.get(a_id), services.store.get(b_id)
    if a is None or b is None or not a.grid_id:
        return None
    return a.grid_id if a.grid_id == b.grid_id else None


def compare_params(a: Generation, b: Generation) -> list[tuple[str, Any, Any, bool]]:
    "Rows of (label, value in A, value in B, differs) over every node param, plus the file facts."
    pa, pb = a.params.model_dump(), b.params.model_dump()
    rows = [(fmt.PARAM_LABELS[k], pa[k], pb[k], pa[k] != pb[k]) for k in fmt.PARAM_LABELS]
    for label, fa, fb in (
        ("Size", f"{a.width}x{a.height}" if a.width else None, f"{b.width}x{b.height}" if b.width else None),
        ("Seconds", a.duration_s, b.duration_s),
        ("Has audio", a.has_audio, b.has_audio),
        ("Time taken (s)", a.elapsed_s, b.elapsed_s),
    ):
        rows.append((label, fa, fb, fa != fb))
    return rows
