"""Uploads (mosaic-api.md §2.6): the upload ticket, the signed storage POST it points at (policy
fields before the file, size limit signed in), finalize, and signed, expiring download URLs for
renders.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from . import faults
from .protocol import ApiFail, error_response, iso, json_body, new_id
from .state import Upload

if TYPE_CHECKING:
    from .server import Simulator

SIGNED_URL_TTL_S = 7 * 24 * 3600
UPLOAD_POLICY_TTL_S = 3600
UPLOAD_TYPES = ("video", "audio", "image")
CONTEXT_UPLOAD_TYPE = {"images": "image", "videos": "video", "audio": "audio"}


def sign(sim: Simulator, path: str, expires: int) -> str:
    "HMAC of a storage path and expiry time."
    return hmac.new(sim.secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(sim: Simulator, base: str, path: str, expires: int) -> str:
    "A storage URL carrying its expiry and signature."
    return f"{base}{path}?expires={expires}&signature={sign(sim, path, expires)}"


def upload_kind(request: Request) -> str:
    "The {kind} path parameter (video, audio or image); 404 otherwise."
    kind = request.path_params["kind"]
    if kind not in UPLOAD_TYPES:
        raise ApiFail(404, f"Unknown upload type {kind!r}; use video, audio or image")
    return kind


async def upload_url(sim: Simulator, request: Request) -> Response:
    "POST /uploads/{kind}/get_upload_url: a ticket for one signed storage POST."
    kind = upload_kind(request)
    upload_id = new_id()
    max_bytes = int(sim.config.upload_max_bytes[kind])
    expires = int(time.time()) + UPLOAD_POLICY_TTL_S
    key = f"uploads/{kind}/{upload_id}"
    policy_doc = {"expiration": iso(expires), "conditions": [{"key": key}, ["content-length-range", 0, max_bytes]]}
    policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()
    signature = hmac.new(sim.secret, policy.encode(), hashlib.sha256).hexdigest()
    with sim.lock:
        sim.uploads[upload_id] = Upload(
            id=upload_id,
            type=kind,
            key=key,
            policy=policy,
            signature=signature,
            max_bytes=max_bytes,
            expires=expires,
        )
        sim.dirty = True
    return JSONResponse(
        {
            f"{kind}_id": upload_id,
            "upload_url": f"{sim.base(request)}/_storage/upload/{upload_id}",
            "upload_fields": {"key": key, "policy": policy, "x-goog-signature": signature},
            "max_file_size_bytes": max_bytes,
        }
    )


async def upload_finalize(sim: Simulator, request: Request) -> Response:
    "POST /uploads/{kind}/finalize_upload: the file arrived and fits the current limit."
    kind = upload_kind(request)
    body = await json_body(request)
    upload_id = body.get(f"{kind}_id")
    if not isinstance(upload_id, str) or not upload_id:
        raise ApiFail(400, f"{kind}_id is required")
    with sim.lock:
        upload = sim.uploads.get(upload_id)
        if upload is None or upload.type != kind:
            raise ApiFail(404, f"{kind.capitalize()} upload {upload_id} not found or expired")
        if upload.size is None:
            raise ApiFail(400, f"The file for {kind} upload {upload_id} has not been uploaded yet")
        limit = int(sim.config.upload_max_bytes[kind])
        if upload.size > limit:
            raise ApiFail(413, f"The file is {upload.size} bytes; the {kind} limit is {limit} bytes")
        upload.finalized, sim.dirty = True, True
    return JSONResponse({f"{kind}_id": upload_id})


async def storage_upload(sim: Simulator, request: Request) -> Response:
    "The signed storage POST: policy fields first, then the file, within its size limit."
    with sim.lock:
        upload = sim.uploads.get(request.path_params["upload_id"])
    if upload is None:
        return error_response(404, "No such upload")
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        return error_response(400, "Upload must be multipart/form-data")
    async with request.form(max_files=1, max_fields=50) as form:
        items = form.multi_items()
        names = [name for name, _ in items]
        if "file" not in names:
            return error_response(400, "Policy violation: no file field")
        file_at = names.index("file")
        # Like a GCS signed POST: fields after the file are ignored, so they must come first.
        before = dict(items[:file_at])
        expected = {"key": upload.key, "policy": upload.policy, "x-goog-signature": upload.signature}
        for name, value in expected.items():
            if name not in before:
                return error_response(400, f"Policy violation: form field {name} missing before the file")
            if not hmac.compare_digest(str(before[name]), value):
                return error_response(400, f"Policy violation: form field {name} does not match")
        if time.time() > upload.expires:
            return error_response(400, "Policy violation: the upload policy expired")
        file = items[file_at][1]
        if isinstance(file, str):
            return error_response(400, "Policy violation: file must be a file part")
        suffix = Path(file.filename or "").suffix[:10]
        dest = sim.media_dir / "uploads" / f"{upload.id}{suffix}"
        size = await asyncio.to_thread(copy_limited, file.file, dest, upload.max_bytes)
        if size is None:
            return error_response(400, f"Policy violation: file larger than {upload.max_bytes} bytes")
    with sim.lock:
        upload.path, upload.size = dest, size
        upload.filename, upload.content_type = file.filename, file.content_type
        sim.dirty = True
    return Response(status_code=204)


async def storage_download(sim: Simulator, request: Request) -> Response:
    "A signed, unexpired download of a render or thumbnail (Range supported)."
    name = request.path_params["name"]
    query = request.query_params
    try:
        expires = int(query.get("expires", ""))
    except ValueError:
        return error_response(403, "Missing or invalid signature")
    expected = sign(sim, f"/_storage/renders/{name}", expires)
    if not hmac.compare_digest(query.get("signature", ""), expected) or expires < time.time():
        return error_response(403, "The signature is invalid or the URL expired")
    path = sim.media_dir / "renders" / name
    if not re.fullmatch(r"[0-9a-f-]{36}\.(mp4|jpg)", name) or not path.is_file():
        return error_response(404, "No such object")
    media_type = "video/mp4" if name.endswith(".mp4") else "image/jpeg"
    fault = faults.pick_download_fault(sim)
    if fault is None:
        return FileResponse(path, media_type=media_type)
    data = await asyncio.to_thread(path.read_bytes)
    cut = data[: int(len(data) * faults.TRUNCATE_SHARE)]
    if fault == "truncated_video":
        return Response(cut, media_type=media_type)
    if fault == "short_body":
        return CutShort(cut, len(data), media_type)
    if fault == "trickle":
        rate = sim.config.faults.trickle_bytes_per_s
        headers = {"content-length": str(len(data))}
        return StreamingResponse(trickle(data, rate), media_type=media_type, headers=headers)
    # redirect_foreign: the same object on another host name of this machine
    other = "localhost" if request.url.hostname != "localhost" else "127.0.0.1"
    return RedirectResponse(str(request.url.replace(hostname=other)), status_code=302)


class CutShort(Response):
    "Promises `total` bytes, sends `body`, then ends: the client sees the line cut (the short_body fault)."

    def __init__(self, body: bytes, total: int, media_type: str):
        super().__init__(body, media_type=media_type)
        self.headers["content-length"] = str(total)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        # Returning mid-body makes uvicorn close the connection (as routes.drop_connection does).


async def trickle(data: bytes, rate: float):
    "The bytes of `data` at `rate` bytes per second, a few at a time (the trickle fault)."
    step = max(1, round(rate / 10))
    for start in range(0, len(data), step):
        yield data[start : start + step]
        await asyncio.sleep(step / rate)


def copy_limited(src, dest: Path, limit: int) -> int | None:
    "Copy a file object to dest; None (and nothing kept) when it is larger than `limit` bytes."
    size = 0
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                size += len(chunk)
                if size > limit:
                    return None
                out.write(chunk)
        os.replace(tmp, dest)
        return size
    finally:
        tmp.unlink(missing_ok=True)
