"""Draft → final (issue 9 §4): promote a finished take to a final with the same prompt and
references at other settings (usually a higher resolution and a longer clip), priced before launch,
and follow the chain of takes from a draft to its finals and back.

A final is queued through the same path as Create (`generations.generate`, once per launch key),
then its `draft_id` names the draft. The launch key starts with PROMOTE_KEY_PREFIX and the draft's
id, so a final that was deleted later is still known to have existed: the chain shows "a deleted
take" there, as it does where a final's draft was deleted. Seeds are best effort on Seedance 2, so
a final is a new take, not an upscale of its draft (SEED_NOTE).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from .. import costs
from ..costs import CostDifference, Estimate
from ..errors import ParamsError
from ..models import RESOLUTIONS, Generation, NodeSettings, VideoGenerationParams
from .app import Services
from .estimates import estimate
from .generations import generate

PROMOTE_KEY_PREFIX = "promote:"  # launch keys: promote:<draft id>:<token>
FINAL_DURATION = "10"  # a final's length unless the draft already has it
LONGEST_DURATION = "15"
SEED_NOTE = "Seeds are best effort on Seedance 2: a final is a new take, not an upscale."
DELETED_TAKE = "a deleted take"
# What a final may change; the prompt and the references are always the draft's.
TARGET_FIELDS = ("model", "resolution", "duration", "aspect_ratio", "generate_audio")
STAGE_CHOICES = ("drafts", "finals")  # the Gallery's ?stage= filter


@dataclass(frozen=True)
class DeletedTake:
    "Where the chain meets a take that was deleted: its id, and what to call it."

    id: str
    label: str = DELETED_TAKE


Link = Generation | DeletedTake


@dataclass(frozen=True)
class PromotionPlan:
    "A promotion priced before launch, or the reason it cannot be launched (`problem`)."

    draft: Generation | None
    target: NodeSettings | None
    difference: CostDifference | None
    estimate: Estimate | None
    problem: str | None

    def describe(self) -> str:
        "'480p 4 s → 1080p 10 s: about 12× the tokens · ready in about 3–6 min'."
        if self.difference is None or self.estimate is None:
            return self.problem or ""
        ready = self.estimate.describe().rsplit(" · ", 1)[-1]  # the estimate's "ready in …" part
        return f"{self.difference.describe()} · {ready}"


def default_target(draft: Generation) -> NodeSettings:
    "The next resolution up (the same at the top), the same aspect ratio and audio, 10 s."
    at = RESOLUTIONS.index(draft.resolution) if draft.resolution in RESOLUTIONS else 0
    resolution = RESOLUTIONS[min(at + 1, len(RESOLUTIONS) - 1)]
    duration = FINAL_DURATION
    if resolution == draft.resolution and draft.duration == FINAL_DURATION:
        duration = LONGEST_DURATION  # a 1080p 10 s draft: a longer final is the step left
    return NodeSettings(
        model=draft.model,
        resolution=resolution,
        duration=duration,
        aspect_ratio=draft.aspect_ratio,
        generate_audio=draft.generate_audio,
        selected_context=draft.selected_context,
    )


def _target(draft: Generation, target: NodeSettings | dict[str, Any]) -> NodeSettings:
    "The target's settings with the draft's references (ParamsError for settings that are not valid)."
    chosen = target.model_dump(include=set(TARGET_FIELDS)) if isinstance(target, NodeSettings) else target
    if not isinstance(chosen, dict):
        raise ParamsError(f"The final's settings must be a mapping, not {type(target).__name__}", field="target")
    unknown = sorted(set(chosen) - set(TARGET_FIELDS))
    if unknown:
        raise ParamsError(
            f"A final keeps its draft's prompt and references; it can change only {', '.join(TARGET_FIELDS)} "
            f"(not {', '.join(unknown)})",
            field="target",
        )
    return NodeSettings.parse({**chosen, "selected_context": draft.selected_context.model_dump()})


def _draft(services: Services, gen_id: str) -> Generation:
    "The take to promote, if it can be: a finished take that still exists (ParamsError otherwise)."
    gen = services.store.get(gen_id) if isinstance(gen_id, str) and gen_id.strip() else None
    if gen is None:
        raise ParamsError(
            f"There is no take {gen_id!r} to promote: it may have been deleted (pick another in the Gallery)",
            field="id",
        )
    if gen.status == "failed":
        raise ParamsError(
            "This take failed, so there is no draft to promote: run it again, and promote it once it is done",
            field="id",
        )
    if gen.status == "cancelled":
        raise ParamsError(
            "This take was cancelled, so there is no draft to promote: run it again, and promote it once it is done",
            field="id",
        )
    if gen.status != "done":
        raise ParamsError(
            "This take is still being made; promote it once it is done (you can watch it in the sidebar)", field="id"
        )
    return gen


def _same(draft: Generation, target: NodeSettings) -> bool:
    return all(getattr(draft, name) == getattr(target, name) for name in TARGET_FIELDS)


def plan_promotion(services: Services, gen_id: str, target: NodeSettings | dict[str, Any]) -> PromotionPlan:
    "Check a promotion and price it: the cost difference from the draft, and the final's run time."
    draft: Generation | None = None
    try:
        draft = _draft(services, gen_id)
        settings = _target(draft, target)
        if _same(draft, settings):
            raise ParamsError(
                "These are the draft's own settings: choose a higher resolution, another length, aspect ratio "
                "or audio for the final",
                field="target",
            )
    except ParamsError as err:
        return PromotionPlan(draft, None, None, None, str(err))
    rates = costs.parse_credit_rates(services.settings.credits_per_second)
    difference = costs.cost_difference(draft.params.settings, settings, rates)
    return PromotionPlan(draft, settings, difference, estimate(services, [settings]), None)


def promote(
    services: Services,
    gen_id: str,
    target: NodeSettings | dict[str, Any],
    author: str | None = None,
    *,
    launch_key: str | None = None,
) -> str:
    """Queue a final of take `gen_id`: its prompt and references at the `target` settings; returns
    the final's id. With a `launch_key` the launch is once per key: the same key again (a double
    click, a retried request) returns the same final and launches nothing. ParamsError, with a
    sentence saying why, for a take that is missing, not done, or settings that are invalid or the
    draft's own."""
    plan = plan_promotion(services, gen_id, target)
    if plan.problem is not None or plan.draft is None or plan.target is None:
        raise ParamsError(plan.problem or "This take cannot be promoted", field="target")
    draft, settings = plan.draft, plan.target
    token = launch_key if launch_key is not None else secrets.token_hex(8)
    params = VideoGenerationParams(prompt=draft.prompt, **settings.model_dump())
    [final_id] = generate(services, params, author=author, launch_key=f"{PROMOTE_KEY_PREFIX}{draft.id}:{token}")
    services.store.set_draft(final_id, draft.id)  # the same key again sets the same value
    return final_id


def lineage(services: Services, gen_id: str) -> list[Link]:
    """The chain a take belongs to, draft first: its drafts back to the first (a deleted one ends
    the walk as a DeletedTake), the take, then its finals and theirs, oldest first, with a
    DeletedTake for each final that was deleted. Just [take] for a take never promoted; [] when the
    take itself does not exist."""
    gen = services.store.get(gen_id)
    if gen is None:
        return []
    seen = {gen.id}
    up: list[Link] = []
    step: Generation = gen
    while step.draft_id and step.draft_id not in seen:
        seen.add(step.draft_id)
        found = services.store.get(step.draft_id)
        if found is None:
            up.append(DeletedTake(step.draft_id))
            break
        up.append(found)
        step = found
    down: list[Link] = []
    level = [gen.id]
    while level:
        nxt: list[str] = []
        for draft_id in level:
            finals = {f.id: f for f in services.store.finals([draft_id])}
            launched = services.store.launched_with_prefix(f"{PROMOTE_KEY_PREFIX}{draft_id}:")
            for final_id in dict.fromkeys([*launched, *finals]):
                if final_id in seen:
                    continue
                seen.add(final_id)
                down.append(finals.get(final_id) or DeletedTake(final_id))
                if final_id in finals:
                    nxt.append(final_id)
        level = nxt
    return [*reversed(up), gen, *down]


def draft_and_final(chain: list[Link], gen: Generation) -> tuple[Generation, Generation] | None:
    """The pair to play side by side for `gen`: its draft and itself when it is a final, else
    itself and its newest finished final; None when there is no such pair with both videos made."""
    made = [g for g in chain if isinstance(g, Generation) and g.status == "done"]
    if gen.status != "done":
        return None
    draft = next((g for g in made if g.id == gen.draft_id), None)
    if draft is not None:
        return draft, gen
    finals = [g for g in made if g.draft_id == gen.id]
    return (gen, finals[-1]) if finals else None
