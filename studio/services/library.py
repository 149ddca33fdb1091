"""The library: presets (saved settings) and references (files uploaded to Mosaic once, found
again by their content hash)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ParamsError
from ..models import (
    MAX_REFERENCE_AUDIO,
    MAX_REFERENCE_IMAGES,
    MAX_REFERENCE_VIDEOS,
    NodeSettings,
    Preset,
    Reference,
    VideoGenerationParams,
)
from ..store import utcnow
from .app import Services

MAX_PRESET_NAME_CHARS = 60


def save_preset(services: Services, name: str, values: dict[str, Any]) -> None:
    "Save node settings under a name (the prompt too, when given); overwrites a preset of that name."
    name = name.strip()
    if not name:
        raise ParamsError("Give the preset a name", field="preset")
    if len(name) > MAX_PRESET_NAME_CHARS:
        raise ParamsError(f"Preset names are at most {MAX_PRESET_NAME_CHARS} characters", field="preset")
    check_preset(values)
    services.store.save_preset(name, values)


def check_preset(values: dict[str, Any]) -> None:
    "Refuse preset values that could not run: the settings always, the prompt when it is kept."
    settings = {k: v for k, v in values.items() if k != "prompt"}
    if "prompt" in values:
        VideoGenerationParams.parse(values)
    else:
        NodeSettings.parse(settings)


def load_preset(services: Services, name: str) -> dict[str, Any]:
    "A saved preset's values, checked so they can fill a form and run."
    found = next((p for p in services.store.presets() if p.name == name), None)
    if found is None:
        raise ParamsError("Choose a saved preset to load.", field="preset")
    try:
        check_preset(found.params)
    except ParamsError as err:
        raise ParamsError(f"Preset “{name}” can't be loaded: {err}", field="preset") from None
    return dict(found.params)


def presets(services: Services) -> list[Preset]:
    return services.store.presets()


def delete_preset(services: Services, name: str) -> None:
    if not services.store.delete_preset(name):
        raise ParamsError(f"No preset named {name!r}", field="preset")


# ---------------------------------------------------------------------- references

REFERENCE_TYPES: dict[str, dict[str, str]] = {
    "image": {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".gif": "image/gif",
        ".webp": "image/webp",
        ".svg": "image/svg+xml",
    },
    "video": {
        ".mp4": "video/mp4",
        ".mov": "video/quicktime",
        ".avi": "video/x-msvideo",
        ".webm": "video/webm",
        ".mkv": "video/x-matroska",
        ".m4v": "video/x-m4v",
    },
    "audio": {
        ".mp3": "audio/mpeg",
        ".wav": "audio/wav",
        ".m4a": "audio/mp4",
        ".flac": "audio/flac",
        ".ogg": "audio/ogg",
        ".aac": "audio/aac",
        ".opus": "audio/opus",
    },
}
# Mosaic's documented upload limits (mosaic-api.md §2.6).
REFERENCE_MAX_BYTES = {"image": 50 * 1024**2, "video": 5 * 1024**3, "audio": 500 * 1024**2}
REFERENCE_MAX_COUNT = {"image": MAX_REFERENCE_IMAGES, "video": MAX_REFERENCE_VIDEOS, "audio": MAX_REFERENCE_AUDIO}
REFERENCES_DIR = "refs"
# Files come through the browser into memory; .streamlit/config.toml sets server.maxUploadSize to this.
BROWSER_UPLOAD_MAX_MB = 1024


def reference_kind(filename: str) -> str:
    "image, video or audio from a file name; ParamsError naming the accepted types otherwise."
    suffix = Path(filename).suffix.lower()
    for kind, types in REFERENCE_TYPES.items():
        if suffix in types:
            return kind
    accepted = ", ".join(s.lstrip(".").upper() for types in REFERENCE_TYPES.values() for s in types)
    raise ParamsError(f"{filename}: this file type can't be a reference. Use one of {accepted}.", field="references")


def check_reference(filename: str, size: int) -> str:
    "Check type and size before anything is uploaded; returns the kind."
    kind = reference_kind(filename)
    limit = REFERENCE_MAX_BYTES[kind]
    if size > limit:
        raise ParamsError(
            f"{filename} is {size / 1024**2:.1f} MB; Mosaic accepts {kind} files up to {limit / 1024**2:.0f} MB",
            field="references",
        )
    if size > BROWSER_UPLOAD_MAX_MB * 1024**2:
        raise ParamsError(
            f"{filename} is {size / 1024**2:.0f} MB; the studio takes files up to "
            f"{BROWSER_UPLOAD_MAX_MB} MB from the browser",
            field="references",
        )
    if size == 0:
        raise ParamsError(f"{filename} is empty", field="references")
    return kind


def check_reference_counts(selected: dict[str, Sequence[str]]) -> None:
    "At most 9 images, 3 videos and 3 audio clips per generation (keys as in selected_context)."
    for key, kind, noun in (
        ("images", "image", "images"),
        ("videos", "video", "videos"),
        ("audio", "audio", "audio clips"),
    ):
        limit = REFERENCE_MAX_COUNT[kind]
        if len(selected.get(key, ())) > limit:
            raise ParamsError(
                f"At most {limit} reference {noun} per generation (got {len(selected[key])})", field="references"
            )


def upload_reference(services: Services, filename: str, data: bytes) -> Reference:
    "Add a file to the reference library: uploaded to Mosaic once, found again by its content hash."
    kind = check_reference(filename, len(data))
    digest = hashlib.sha256(data).hexdigest()
    scope = services.runner.scope
    known = services.store.find_reference(scope, digest)
    if known is not None:
        return known
    upload_id = services.client.upload(
        kind, data, Path(filename).name, REFERENCE_TYPES[kind][Path(filename).suffix.lower()]
    )
    folder = Path(services.settings.media_dir) / REFERENCES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    local = folder / f"{digest[:16]}{Path(filename).suffix.lower()}"
    local.write_bytes(data)
    ref = Reference(
        scope=scope,
        sha256=digest,
        kind=kind,
        filename=Path(filename).name,
        content_type=REFERENCE_TYPES[kind][Path(filename).suffix.lower()],
        size=len(data),
        upload_id=upload_id,
        local_name=f"{REFERENCES_DIR}/{local.name}",
        created_at=utcnow(),
    )
    services.store.add_reference(ref)
    return ref


def references(services: Services, kind: str | None = None) -> list[Reference]:
    "The reference library for the API in use, newest first."
    return services.store.references(services.runner.scope, kind)
