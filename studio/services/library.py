"""The library: presets (saved settings) and references (files uploaded to Mosaic once, found
again by their content hash, checked by content with `studio.references` before any upload)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import references as rules
from ..errors import MediaError, ParamsError, StoreError, StudioError
from ..models import NodeSettings, Preset, Reference, VideoGenerationParams
from ..references import ReferenceFacts, UploadResult
from ..store import utcnow
from .app import Services

MAX_PRESET_NAME_CHARS = 60


def save_preset(services: Services, name: str, values: dict[str, Any]) -> None:
    "Save node settings under a name (the prompt too, when given); overwrites a preset of that name."
    if not isinstance(name, str):
        raise ParamsError("Give the preset a name", field="preset")
    name = name.strip()
    if not name:
        raise ParamsError("Give the preset a name", field="preset")
    if len(name) > MAX_PRESET_NAME_CHARS:
        raise ParamsError(f"Preset names are at most {MAX_PRESET_NAME_CHARS} characters", field="preset")
    check_preset(values)
    services.store.save_preset(name, values)


def check_preset(values: dict[str, Any]) -> None:
    "Refuse preset values that could not run: the settings always, the prompt when it is kept."
    if not isinstance(values, dict):
        raise ParamsError("A preset holds settings by name (a mapping)", field="preset")
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

REFERENCE_MAX_COUNT = dict(rules.MAX_COUNT)  # per generation, by kind
# The file picker's filter (no dots); only a hint, since the content is what gets checked.
UPLOAD_TYPES = [ext.lstrip(".") for exts in rules.EXTENSIONS.values() for ext in exts]
REFERENCES_DIR = "refs"
# Files come through the browser into memory; .streamlit/config.toml sets server.maxUploadSize to this.
BROWSER_UPLOAD_MAX_MB = 1024


@dataclass(frozen=True)
class AddResult:
    """What adding files to the library did to a selection: the selection now (selected_context
    shape), one note per file taken, and one error per file refused or left unselected."""

    selected: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def upload_reference(services: Services, filename: str, data: bytes | Path) -> UploadResult:
    """Add a file (its bytes or its path) to the reference library: checked by content first
    (ParamsError naming the file and the rule; a folder or a missing path before any API call),
    uploaded to Mosaic once, found again by its content hash."""
    if not isinstance(data, (bytes, bytearray)):
        rules.check_file(filename, data)  # a folder, a pipe or a missing path stops here
        try:
            data = Path(data).read_bytes()
        except OSError as err:  # it changed or vanished since it was checked
            raise ParamsError(f"Cannot read {Path(filename).name}: {err.strerror or err}", field="references") from err
    return _upload(services, filename, bytes(data))[0]


def _upload(services: Services, filename: str, data: bytes) -> tuple[UploadResult, ReferenceFacts]:
    facts = rules.check_file(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    scope = services.runner.scope
    known = services.store.find_reference(scope, digest)
    if known is not None:
        return UploadResult(known, facts.name, True), facts
    upload_id = services.client.upload(facts.kind, data, facts.name, facts.content_type)  # type: ignore[arg-type]
    # Named by what the content is, so a preview is served with the right type whatever the file was called.
    key = f"{REFERENCES_DIR}/{digest[:16]}.{facts.format}"
    try:
        services.media.put_bytes(key, data)
    except (OSError, MediaError) as err:
        why = err.strerror or err if isinstance(err, OSError) else err
        raise StoreError(f"Could not keep a copy of {facts.name} in {services.media.described}: {why}") from err
    ref = Reference(
        scope=scope,
        sha256=digest,
        kind=facts.kind,
        filename=facts.name,
        content_type=facts.content_type,
        size=len(data),
        upload_id=upload_id,
        local_name=key,
        created_at=utcnow(),
    )
    services.store.add_reference(ref)
    return UploadResult(ref, facts.name, False), facts


def references(services: Services, kind: str | None = None) -> list[Reference]:
    "The reference library for the API in use, newest first."
    return services.store.references(services.runner.scope, kind)


def _selected_facts(services: Services, selected: Mapping[str, Sequence[str]]) -> list[ReferenceFacts]:
    """Facts of every selected file, probed again from the library's local copy (a few ms each).
    An id the library does not hold (a draft from another API) still counts toward its kind."""
    library = {r.upload_id: r for r in references(services)}
    out = []
    for kind, key in rules.CONTEXT_KEYS.items():
        for upload_id in selected.get(key, ()):
            ref = library.get(upload_id)
            kept = _kept_copy(services, ref.local_name) if ref is not None and ref.local_name else None
            if ref is not None and kept is not None:
                out.append(rules.check_file(ref.filename, kept))
            else:
                out.append(ReferenceFacts(f"upload {upload_id}", kind, "", "", 0, duration_s=0.0))
    return out


def _kept_copy(services: Services, key: str) -> Path | bytes | None:
    "The library's copy of a reference: its file here (a folder), its bytes (S3), or None when it is gone."
    path = services.media.local_path(key)
    if path is not None:
        return path if path.is_file() else None
    try:
        with services.media.open(key) as body:
            return body.read()
    except MediaError:
        return None


def check_references(services: Services, selected: Mapping[str, Sequence[str]]) -> None:
    """Check what one generation would carry together (counts, total lengths and bytes, audio only
    beside an image or video); ParamsError(field="references") naming the files otherwise."""
    if any(selected.get(key) for key in rules.CONTEXT_KEYS.values()):
        rules.check_selection(_selected_facts(services, selected))


def add_references(
    services: Services, files: Sequence[tuple[str, bytes]], selected: Mapping[str, Sequence[str]]
) -> AddResult:
    """Check each file by content, add it to the library (uploaded once) and select it, as long as
    the selection stays one a generation can carry. Refusals are collected, never raised."""
    chosen = {key: list(selected.get(key, ())) for key in rules.CONTEXT_KEYS.values()}
    facts = _selected_facts(services, chosen)
    notes: list[str] = []
    errors: list[str] = []
    for name, data in files:
        try:
            result, new = _upload(services, name, data)
        except ParamsError as err:
            errors.append(str(err))
            continue
        except StudioError as err:
            errors.append(f"{Path(name).name} could not be uploaded: {err}")
            continue
        upload_id = result.reference.upload_id
        if upload_id in chosen[new.context_key]:
            notes.append(f"{result.message()} (already selected)")
            continue
        try:
            rules.check_selection([*facts, new])
        except ParamsError as err:
            errors.append(f"{result.message()}, but it is not selected: {err}")
            continue
        chosen[new.context_key].append(upload_id)
        facts.append(new)
        notes.append(f"{result.message()} (selected)")
    return AddResult(chosen, notes, errors)
