"""Typed shapes: the Video Generation node's params (strict: people write them) and the
Mosaic API's responses (tolerant: unknown fields are kept, most fields optional).

The param table is the product brief's (`shared/seed/video-generation-node.md`).
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ParamsError

VIDEO_GENERATION_NODE_TYPE_ID = "a2eb3ec2-da7a-4f97-94d2-a9a537548522"

MODELS = ("seedance-2",)
RESOLUTIONS = ("480p", "720p", "1080p")
DURATIONS = ("auto", *tuple(str(s) for s in range(4, 16)))
ASPECT_RATIOS = ("auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16")

DEFAULT_MODEL = "seedance-2"
DEFAULT_RESOLUTION = "720p"
DEFAULT_DURATION = "auto"
DEFAULT_ASPECT_RATIO = "auto"
DEFAULT_GENERATE_AUDIO = True

# Mosaic documents no prompt limit; the studio keeps prompts to a length people can review.
PROMPT_MAX_CHARS = 5000
# Seedance 2 reference limits as other providers document them (mosaic-api.md §5.2).
MAX_REFERENCE_IMAGES = 9
MAX_REFERENCE_VIDEOS = 3
MAX_REFERENCE_AUDIO = 3

RUN_TERMINAL_STATUSES = ("completed", "partial_complete", "failed", "cancelled")


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = str(value).strip() if value is not None else ""
    if text not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)} (got {value!r})")
    return text


class SelectedContext(BaseModel):
    "Uploaded references (upload ids) that guide the generation."

    model_config = ConfigDict(extra="forbid")

    images: list[str] = Field(default_factory=list)
    videos: list[str] = Field(default_factory=list)
    audio: list[str] = Field(default_factory=list)

    @field_validator("images")
    @classmethod
    def _max_images(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_REFERENCE_IMAGES:
            raise ValueError(f"at most {MAX_REFERENCE_IMAGES} reference images (got {len(v)})")
        return v

    @field_validator("videos")
    @classmethod
    def _max_videos(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_REFERENCE_VIDEOS:
            raise ValueError(f"at most {MAX_REFERENCE_VIDEOS} reference videos (got {len(v)})")
        return v

    @field_validator("audio")
    @classmethod
    def _max_audio(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_REFERENCE_AUDIO:
            raise ValueError(f"at most {MAX_REFERENCE_AUDIO} reference audio clips (got {len(v)})")
        return v

    def is_empty(self) -> bool:
        return not (self.images or self.videos or self.audio)


class NodeParamFields(BaseModel):
    "The Video Generation node's params as fields with the brief's defaults (shared by params and rows)."

    prompt: str
    model: str = DEFAULT_MODEL
    resolution: str = DEFAULT_RESOLUTION
    duration: str = DEFAULT_DURATION
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    generate_audio: bool = DEFAULT_GENERATE_AUDIO
    selected_context: SelectedContext = Field(default_factory=SelectedContext)


class NodeSettings(BaseModel):
    """The Video Generation node's settings without the prompt: what a preset, a comparison's
    axes or an estimate validate. Strict about input, with the brief's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = DEFAULT_MODEL
    resolution: str = DEFAULT_RESOLUTION
    duration: str = DEFAULT_DURATION
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    generate_audio: bool = DEFAULT_GENERATE_AUDIO
    selected_context: SelectedContext = Field(default_factory=SelectedContext)

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, v: Any) -> str:
        return _one_of("model", v, MODELS)

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution(cls, v: Any) -> str:
        return _one_of("resolution", v, RESOLUTIONS)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> str:
        # Mosaic's example sends duration as a string; accept 8 as well as "8" from callers.
        if isinstance(v, bool):
            raise ValueError(f"must be auto or a whole number of seconds 4..15 (got {v!r})")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = str(v).strip().removesuffix("s") if v is not None else ""
        if text not in DURATIONS:
            raise ValueError(f"must be auto or a whole number of seconds 4..15 (got {v!r})")
        return text

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _aspect_ratio(cls, v: Any) -> str:
        return _one_of("aspect_ratio", v, ASPECT_RATIOS)

    @field_validator("generate_audio", mode="before")
    @classmethod
    def _audio(cls, v: Any) -> bool:
        if isinstance(v, bool):
            return v
        raise ValueError(f"must be true or false (got {v!r})")

    @classmethod
    def parse(cls, data: dict[str, Any] | None = None, **kwargs: Any) -> Self:
        "Validate input and raise `ParamsError` with a message a person understands."
        if data is not None and not isinstance(data, dict):
            raise ParamsError(f"Params must be a mapping of field to value, not {type(data).__name__}")
        merged = {**(data or {}), **kwargs}
        try:
            return cls.model_validate(merged)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            if first.get("type") == "missing":
                msg = "is required" if field != "prompt" else "the prompt is empty; describe the shot you want"
            if first.get("type") == "extra_forbidden":
                msg = "is not a Video Generation param"
            label = field.replace("_", " ") if field else "params"
            text = msg if msg.startswith(("the prompt", "at most")) else f"{label} {msg}"
            raise ParamsError(text[0].upper() + text[1:], field=field) from None

    @property
    def seconds(self) -> int | None:
        "Requested seconds of video, or None when the model chooses (auto)."
        return None if self.duration == "auto" else int(self.duration)


class VideoGenerationParams(NodeSettings):
    "Every param of the Video Generation node: the settings plus the prompt."

    prompt: str

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v or not v.strip():
            raise ValueError("the prompt is empty; describe the shot you want")
        if len(v) > PROMPT_MAX_CHARS:
            raise ValueError(f"the prompt is {len(v)} characters; the limit is {PROMPT_MAX_CHARS}")
        if any(ord(c) < 32 and c not in "\t\n\r" for c in v):  # NUL and other control bytes
            raise ValueError("the prompt contains a control character (such as NUL); remove it")
        try:  # bytes that were not UTF-8 arrive from a shell as lone surrogates; no database or API takes them
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the prompt has bytes that are not UTF-8 text; retype it or fix its encoding") from None
        return v

    @property
    def settings(self) -> NodeSettings:
        "The same params without the prompt."
        return NodeSettings.model_validate(self.model_dump(exclude={"prompt"}))

    def to_api(self) -> dict[str, Any]:
        "The node params exactly as Mosaic takes them (`params_used` / `update_params`), prompt first."
        data = {"prompt": self.prompt, **self.model_dump(exclude={"prompt"})}
        if self.selected_context.is_empty():
            data.pop("selected_context")
        return data


# ---------------------------------------------------------------- API responses (tolerant)


class ApiModel(BaseModel):
    "Base for what Mosaic sends: unknown fields are kept, never an error."

    model_config = ConfigDict(extra="allow")


class Whoami(ApiModel):
    organization_id: str | None = None
    organization_name: str | None = None
    organization_slug: str | None = None
    created_at: str | None = None
    last_used_at: str | None = None


class CreatedNode(ApiModel):
    temp_ref_id: str | None = None
    agent_node_id: str


class AgentChange(ApiModel):
    "Answer to agent create and agent update."

    success: bool | None = None
    agent_id: str
    operations_applied: int | None = None
    created_nodes: list[CreatedNode] = Field(default_factory=list)


class NodeType(ApiModel):
    node_type_id: str | None = None
    node_type_name: str | None = None
    docs_url: str | None = None
    params_docs_url: str | None = None


class AgentNode(ApiModel):
    agent_node_id: str
    node_type: NodeType | None = None
    params_used: dict[str, Any] = Field(default_factory=dict)


class AgentNodeAnswer(ApiModel):
    "GET /agent_nodes/{id}: one node instance (a template node, or a run's runtime clone)."

    agent_node: AgentNode


class AgentList(ApiModel):
    "GET /agents: one page of agents (id, name, description, times), newest first."

    agents: list[AgentInfo] = Field(default_factory=list)
    next_cursor: str | None = None


class AgentInfo(ApiModel):
    id: str
    name: str | None = None
    description: str | None = None
    visibility: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Agent(ApiModel):
    agent: AgentInfo
    agent_nodes: list[AgentNode] = Field(default_factory=list)
    connections: list[dict[str, Any]] = Field(default_factory=list)


class RunOutput(ApiModel):
    id: str | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    completed_at: str | None = None
    original_node_id: str | None = None


class NodeStatusCounts(ApiModel):
    completed: int = 0
    in_progress: int = 0
    failed: int = 0


class Run(ApiModel):
    "GET /agent_run/{id}, a run-list summary, or a webhook payload: the fields they share."

    run_id: str | None = None
    agent_id: str | None = None
    status: str = "running"
    status_message: str | None = None
    needs_credits: bool = False
    errors: list[Any] = Field(default_factory=list)
    node_status_counts: NodeStatusCounts | None = None
    started_at: str | None = None
    updated_at: str | None = None
    outputs: list[RunOutput] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in RUN_TERMINAL_STATUSES

    def output_for(self, node_id: str | None) -> RunOutput | None:
        "The output of one template node (matched by original_node_id), else the first with a URL."
        with_url = [o for o in self.outputs if o.video_url]
        for out in with_url:
            if node_id and out.original_node_id == node_id:
                return out
        return with_url[0] if with_url else None

    def error_text(self) -> str:
        "One line saying why the run did not succeed, from whatever Mosaic sent."
        parts: list[str] = []
        if self.status_message:
            parts.append(self.status_message)
        for err in self.errors:
            if isinstance(err, str):
                parts.append(err)
            elif isinstance(err, dict):
                msg = err.get("message") or err.get("detail") or err.get("messages") or err
                parts.append(msg if isinstance(msg, str) else str(msg))
        if self.needs_credits:
            parts.append("Mosaic needs more credits to run this; top up, then retry")
        return "; ".join(dict.fromkeys(parts)) or f"Run {self.status}"


class RunStarted(ApiModel):
    run_id: str


class RunNode(ApiModel):
    agent_node_id: str | None = None
    original_node_id: str | None = None
    status: str | None = None
    status_message: str | None = None
    errors: list[Any] = Field(default_factory=list)
    needs_credits: bool = False


class RunNodes(ApiModel):
    run_id: str | None = None
    nodes: list[RunNode] = Field(default_factory=list)


class RunList(ApiModel):
    runs: list[Run] = Field(default_factory=list)
    next_cursor: str | None = None


class CancelResult(ApiModel):
    success: bool | None = None
    run_id: str | None = None
    message: str | None = None


class ResumeResult(ApiModel):
    "Answer to POST /agent_run/{id}/resume."

    success: bool | None = None
    run_id: str | None = None
    nodes_queued: int | None = None


class UploadTicket(ApiModel):
    "Answer to POST /uploads/{type}/get_upload_url; the id key depends on the type."

    upload_url: str
    upload_fields: dict[str, Any] = Field(default_factory=dict)
    max_file_size_bytes: int | None = None

    def asset_id(self, kind: str) -> str | None:
        "The new asset's id (`image_id`, `video_id` or `audio_id`), or None when the answer lacks it."
        value = (self.model_extra or {}).get(f"{kind}_id")
        return str(value) if value else None


class Credits(ApiModel):
    "GET /credits: the current flat shape or the older nested one."

    organization_id: str | None = None
    balance: float | None = None
    plan: Any = None
    credits: dict[str, Any] | None = None

    @property
    def current_balance(self) -> float | None:
        if self.balance is not None:
            return self.balance
        if self.credits and self.credits.get("balance") is not None:
            return float(self.credits["balance"])
        return None


# ---------------------------------------------------------------- the studio's own records

ACTIVE_STATUSES = ("queued", "submitting", "running", "downloading")
IN_FLIGHT_STATUSES = ("submitting", "running")  # occupying Mosaic: count against max_in_flight
CANCELLABLE_STATUSES = ("queued", "submitting", "running")  # once rendered, the video is being saved
FINAL_STATUSES = ("done", "failed", "cancelled")
RETRYABLE_STATUSES = ("failed", "cancelled")  # Retry runs the same settings again as a new attempt
STATUSES = ACTIVE_STATUSES + FINAL_STATUSES


class Generation(NodeParamFields):
    "One row of the history: what was asked, what happened, and the saved file's facts."

    model_config = ConfigDict(extra="ignore")

    id: str
    created_at: str
    author: str = ""
    status: str = "queued"
    error: str | None = None
    grid_id: str | None = None
    cell_label: str | None = None
    agent_id: str | None = None
    node_id: str | None = None
    run_id: str | None = None
    render_id: str | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    elapsed_s: float | None = None
    video_path: str | None = None
    thumb_path: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    has_audio: bool | None = None
    file_size: int | None = None
    sha256: str | None = None
    attempt: int = 1
    starred: bool = False
    rating: int | None = None
    tags: str | None = None  # comma-separated, as typed (indexed for search)
    notes: str | None = None
    winner: bool = False
    draft_id: str | None = None  # the take this final was promoted from (issue 9 §4)

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in (self.tags or "").split(",") if t.strip()]

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # Columns left NULL (older rows, partial inserts) take the model's defaults.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    @field_validator("selected_context", mode="before")
    @classmethod
    def _context_json(cls, v: Any) -> Any:
        if isinstance(v, str):
            return json.loads(v) if v else {}
        return v or {}

    @property
    def params(self) -> VideoGenerationParams:
        "The node params this generation asked for."
        return VideoGenerationParams(**{name: getattr(self, name) for name in NodeParamFields.model_fields})

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def facts(self) -> dict[str, Any]:
        "The saved result as the CLI prints it (one JSON object per generation)."
        return {
            "id": self.id,
            "status": self.status,
            "path": self.video_path,
            "width": self.width,
            "height": self.height,
            "duration_s": self.duration_s,
            "has_audio": self.has_audio,
            "run_id": self.run_id,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "duration": self.duration,
            "cell": self.cell_label,
            "sha256": self.sha256,
            "elapsed_s": self.elapsed_s,
            "error": self.error,
        }


class Reference(BaseModel):
    "A file in the reference library: uploaded to Mosaic once, reused by its upload id."

    model_config = ConfigDict(extra="ignore")

    scope: str
    sha256: str
    kind: str
    filename: str
    content_type: str | None = None
    size: int
    upload_id: str
    local_name: str | None = None
    created_at: str


class Preset(BaseModel):
    "Node settings saved under a name."

    name: str
    params: dict[str, Any]
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _params_json(cls, v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v


class Collection(BaseModel):
    "A collection (board): a named, ordered list of generations with an owner; the generations stay its own."

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    description: str = ""
    owner: str = ""
    cover_id: str | None = None
    created_at: str
    updated_at: str
    items: int = 0  # how many generations it holds


# Seedance 2's output sizes: fixed per resolution × aspect ratio, the same in ByteDance's reference
# and every reseller (seedance-2.md). Not "short side = 720": 16:9 at 480p is 864×496, 1:1 at 720p
# is 960×960. `auto` has no row: the model picks one of these six.
OUTPUT_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "16:9": {"480p": (864, 496), "720p": (1280, 720), "1080p": (1920, 1080)},
    "4:3": {"480p": (752, 560), "720p": (1112, 834), "1080p": (1664, 1248)},
    "1:1": {"480p": (640, 640), "720p": (960, 960), "1080p": (1440, 1440)},
    "3:4": {"480p": (560, 752), "720p": (834, 1112), "1080p": (1248, 1664)},
    "9:16": {"480p": (496, 864), "720p": (720, 1280), "1080p": (1080, 1920)},
    "21:9": {"480p": (992, 432), "720p": (1470, 630), "1080p": (2206, 946)},
}


def output_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    "(width, height) Seedance 2 renders at; `auto` is not a size (resolve it first). ParamsError otherwise."
    row = OUTPUT_SIZES.get(aspect_ratio)
    if row is None or resolution not in row:
        raise ParamsError(
            f"no Seedance 2 output size for {resolution!r} at {aspect_ratio!r}; resolutions: "
            f"{', '.join(RESOLUTIONS)}; aspect ratios: {', '.join(OUTPUT_SIZES)}"
        )
    return row[resolution]
