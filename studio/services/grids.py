"""Comparisons (grids): plan the cells of one prompt across settings, launch them together,
reopen a saved comparison, and set two takes side by side (A/B)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from .. import format as fmt
from ..models import ASPECT_RATIOS, RESOLUTIONS, Generation, VideoGenerationParams
from .app import Services


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
    axes = {
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

    A `launch_key` makes the launch idempotent: the same key again returns the same grid.
    """
    cells = grid_cells(
        base, resolutions=resolutions, aspect_ratios=aspect_ratios, durations=durations, audio=audio, prompts=prompts
    )
    axes = {
        "resolutions": list(resolutions),
        "aspect_ratios": list(aspect_ratios),
        "durations": list(durations),
        "audio": list(audio),
        "prompts": list(prompts),
    }
    grid_id, ids = services.store.add_grid(
        prompt=base.prompt,
        axes=axes,
        cells=cells,
        name=name,
        author=author if author is not None else services.settings.author,
        launch_key=launch_key,
    )
    services.runner.wake()
    return grid_id, ids


def grids(services: Services, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
    return services.store.grids(limit=limit, offset=offset)


def grid(services: Services, grid_id: str) -> tuple[dict[str, Any] | None, list[Generation]]:
    "A saved comparison and its cells (None, [] when unknown)."
    found = services.store.get_grid(grid_id)
    return (found, services.store.grid_cells(grid_id)) if found else (None, [])


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
