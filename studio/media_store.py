"""Where saved media lives (issue 10 §1, §3): a folder on this machine (the default, as before) or
an S3-compatible bucket, chosen by `STUDIO_MEDIA_URL`. Keys are the names the rows hold
(generations.video_path / thumb_path, references' local names, exports' files): `<id>.mp4`,
`references/<file>`, `exports/<id>/<file>`.

Everything that writes media goes through a `MediaStore`: a file is made (downloaded, verified,
rendered) on this machine at `staging(key)`, then `put_file` makes it visible under its key only
once it is complete. For a folder the staging place is `<key>.part` beside it and the put is a
rename, exactly as before; for S3 it is a temp file and the put an upload (an S3 PUT or multipart
upload is visible only once complete). Browsers fetch media by `url(key)`: `/files/<key>` (the web
app's route) for a folder, a presigned, Range-capable GET for S3, so any replica can serve any page.

boto3 is imported only when an `s3://` URL is configured (the `[scale]` extra). Its endpoint,
region and credentials come from the usual AWS variables (AWS_ENDPOINT_URL, AWS_REGION or
AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or any source boto3 reads).
botocore's errors become `MediaError` with a plain message here; none carries the secret.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit

from .errors import MediaError, ParamsError
from .media import PARTIAL_SUFFIX
from .settings import MEDIA_ROUTE, Settings

S3_SCHEME = "s3"
# A presigned URL is good for this long; pages reuse one for half of it, so a video element keeps
# its URL across reruns (a new URL would reload the player) and never holds one about to expire.
PRESIGN_EXPIRES_S = 12 * 3600
PRESIGN_CACHE_MAX = 20_000  # URLs remembered per process (a few MB); cleared when full
CONNECT_TIMEOUT_S = 5.0  # an unreachable endpoint is reported within seconds at start-up
READ_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 3  # boto3's standard retry mode: a dropped connection or a 5xx is tried again
STAGING_DIR = "media-staging"  # in the data folder: where files wait before their upload to S3
STALE_STAGING_S = 24 * 3600.0  # a staged file this old belongs to a process that stopped (a download takes minutes)
DEFAULT_CONTENT_TYPE = "application/octet-stream"
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
COPY_CHUNK = 1024 * 1024


class MediaStore(Protocol):
    "Saved media by key: a folder (FolderMedia) or an S3 bucket (S3Media)."

    @property
    def described(self) -> str:
        "Where the media lives, for messages and logs (never a secret)."
        ...

    def check(self) -> None:
        "Raise MediaError (one plain sentence) unless the store can be used; at start-up."
        ...

    def staging(self, key: str) -> Path:
        "A local path to make the file for `key` in before `put_file(key, that path)`."
        ...

    def put_file(self, key: str, path: Path) -> None:
        "Store the local file `path` under `key`, visible only once complete. A staged file is moved."
        ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_file(self, key: str, dest: Path) -> None:
        "Copy the file under `key` to the local path `dest` (complete, or not there at all)."
        ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None:
        "Remove `key` (nothing happens when it is not there)."
        ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...

    def url(self, key: str, *, download_as: str | None = None) -> str:
        "Where a browser fetches `key` (Range requests work); `download_as`: offered as a download of that name."
        ...

    def local_path(self, key: str) -> Path | None:
        "The file on this machine (folder media), or None (S3)."
        ...

    @property
    def origin(self) -> str | None:
        "The origin `url()` points browsers at when it is not this app's (S3), for a page's CSP; None."
        ...


def checked_key(key: str) -> str:
    "A relative, normalized key with no `..`, no backslash and no empty part; MediaError otherwise."
    parts = PurePosixPath(key).parts if key else ()
    if not parts or key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts) or "//" in key:
        raise MediaError(f"{key!r} is not the name of a saved file")
    return "/".join(parts)


def content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE


# ---------------------------------------------------------------------- a folder


class FolderMedia:
    "Media in a folder on this machine (the default: <data folder>/media), served by the app's /files route."

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().resolve()

    @property
    def described(self) -> str:
        return f"the folder {self.root}"

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MediaError(f"The media folder {self.root} cannot be created: {err.strerror or err}") from err

    def path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def staging(self, key: str) -> Path:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(path.name + PARTIAL_SUFFIX)

    def put_file(self, key: str, path: Path) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if Path(path) == dest.with_name(dest.name + PARTIAL_SUFFIX):
            os.replace(path, dest)  # a file under its final name is always complete
            return
        part = self.staging(key)
        try:
            shutil.copyfile(path, part)
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        part = self.staging(key)
        try:
            part.write_bytes(data)
            os.replace(part, self.path(key))
        finally:
            part.unlink(missing_ok=True)

    def get_file(self, key: str, dest: Path) -> None:
        src = self.path(key)
        try:
            shutil.copyfile(src, dest)
        except FileNotFoundError:
            raise MediaError(f"{key} is not in {self.described}") from None

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise MediaError(f"{key} is not in {self.described}") from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise MediaError(f"{key} is not in {self.described}") from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            name = path.relative_to(self.root).as_posix()
            hidden = any(part.startswith(".") for part in PurePosixPath(name).parts)
            if path.is_file() and not hidden and not name.endswith(PARTIAL_SUFFIX) and name.startswith(prefix):
                yield name

    @property
    def origin(self) -> str | None:
        return None

    def url(self, key: str, *, download_as: str | None = None) -> str:
        # Exactly as pages wrote it before: the app's route and the name, unquoted (keys are ids).
        return f"{MEDIA_ROUTE}/{checked_key(key)}"


# ---------------------------------------------------------------------- S3


class S3Media:
    "Media in an S3-compatible bucket under `prefix`; browsers fetch presigned URLs."

    def __init__(self, bucket: str, prefix: str, client: Any, *, staging_dir: Path | None = None, signer: Any = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        # Presigns browsers' URLs: the same client, or one for the endpoint browsers reach (no calls).
        self.signer = signer or client
        self.staging_dir = Path(staging_dir or tempfile.gettempdir())
        self._urls: dict[tuple[str, str | None], tuple[str, float]] = {}
        self._urls_lock = threading.Lock()
        self._swept = False  # staged leftovers are swept by the first check (start-up), not each one

    @property
    def described(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", None)
        return f"{where} at {endpoint}" if endpoint else where

    def _object(self, key: str) -> str:
        key = checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _errors(self, doing: str) -> contextlib.AbstractContextManager[None]:
        return _translated(self, doing)

    def check(self) -> None:
        with self._errors("could not be opened"):
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._object("probe"), MaxKeys=1)
        if not self._swept:  # /healthz repeats the check every few seconds: the sweep is start-up's
            self._swept = True
            self._sweep_staging()

    def _sweep_staging(self) -> None:
        "Remove what a stopped process left staged (older than STALE_STAGING_S: never a file being made now)."
        cutoff = time.time() - STALE_STAGING_S
        with contextlib.suppress(OSError):
            for path in self.staging_dir.iterdir():
                with contextlib.suppress(OSError):
                    if path.lstat().st_mtime >= cutoff:
                        continue
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()

    def local_path(self, key: str) -> Path | None:
        return None

    @property
    def origin(self) -> str | None:
        parts = urlsplit(self.url("origin"))
        return f"{parts.scheme}://{parts.netloc}"

    def staging(self, key: str) -> Path:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        return self.staging_dir / f"{uuid.uuid4().hex}-{PurePosixPath(checked_key(key)).name}"

    def put_file(self, key: str, path: Path) -> None:
        extra = {"ContentType": content_type(key)}
        with self._errors(f"could not store {key}"):
            self.client.upload_file(str(path), self.bucket, self._object(key), ExtraArgs=extra)
        if Path(path).parent == self.staging_dir:
            Path(path).unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors(f"could not store {key}"):
            self.client.put_object(Bucket=self.bucket, Key=self._object(key), Body=data, ContentType=content_type(key))

    def get_file(self, key: str, dest: Path) -> None:
        dest = Path(dest)
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        try:
            with self._errors(f"could not read {key}"):
                self.client.download_file(self.bucket, self._object(key), str(part))
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        with self._errors(f"could not read {key}"):
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]
        return body

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except MissingMediaError:
            return False
        return True

    def size(self, key: str) -> int:
        with self._errors(f"could not look at {key}"):
            return int(self.client.head_object(Bucket=self.bucket, Key=self._object(key))["ContentLength"])

    def delete(self, key: str) -> None:
        with self._errors(f"could not delete {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        with self._errors("could not be listed"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start + prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"][len(start) :]

    def url(self, key: str, *, download_as: str | None = None) -> str:
        "A presigned GET (Range works), the same one for half its life so players keep their URL."
        now = time.monotonic()
        with self._urls_lock:
            cached = self._urls.get((key, download_as))
            if cached and now - cached[1] < PRESIGN_EXPIRES_S / 2:
                return cached[0]
        params = {"Bucket": self.bucket, "Key": self._object(key)}
        if download_as:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_as}"'
        with self._errors(f"could not sign a link to {key}"):
            url = str(self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=PRESIGN_EXPIRES_S))
        with self._urls_lock:
            if len(self._urls) >= PRESIGN_CACHE_MAX:
                self._urls.clear()
            self._urls[(key, download_as)] = (url, now)
        return url


class MissingMediaError(MediaError):
    "The key is not in the store."


# botocore's error codes, in words a person can act on.
_REFUSED = (
    "refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(and that they may read and write the bucket)"
)
ERROR_WORDS = {
    "NoSuchBucket": "has no such bucket: create it, or fix the bucket in STUDIO_MEDIA_URL",
    "InvalidAccessKeyId": _REFUSED,
    "SignatureDoesNotMatch": _REFUSED,
    "AccessDenied": _REFUSED,
    "InvalidToken": _REFUSED,
    "ExpiredToken": "refused expired credentials: renew them (AWS_SESSION_TOKEN)",
    "403": _REFUSED,
}
MISSING_CODES = ("NoSuchKey", "404", "NotFound")


@contextlib.contextmanager
def _translated(store: S3Media, doing: str) -> Iterator[None]:
    "botocore's exceptions as MediaError: which store, what it was doing, and why, in plain words."
    from botocore import exceptions as boto

    try:
        yield
    except boto.ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in MISSING_CODES and code != "NoSuchBucket":
            raise MissingMediaError(f"The media store {store.described} {doing}: the file is not there") from None
        words = ERROR_WORDS.get(code) or f"answered {code or 'an error'}"
        raise MediaError(f"The media store {store.described} {doing}: it {words}") from None
    except boto.NoCredentialsError:
        raise MediaError(
            f"The media store {store.described} {doing}: no S3 credentials; "
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except (boto.EndpointConnectionError, boto.ConnectTimeoutError, boto.ConnectionClosedError) as err:
        raise MediaError(
            f"The media store {store.described} {doing}: the endpoint cannot be reached "
            f"({type(err).__name__}); check AWS_ENDPOINT_URL and the network"
        ) from None
    except boto.BotoCoreError as err:
        raise MediaError(f"The media store {store.described} {doing}: {err}") from None
    except OSError as err:  # the local side of an upload or download
        raise MediaError(f"The media store {store.described} {doing}: {err.strerror or err}") from None


# ---------------------------------------------------------------------- files on this machine


@contextlib.contextmanager
def local_folder(store: MediaStore, keys: Iterable[str | None], *, fetch: bool = True) -> Iterator[Path]:
    """A folder on this machine holding those of `keys` that the store has, under their own names,
    for work that reads files (exports, ffmpeg): the media folder itself, or (S3) a temp folder the
    files are downloaded into and removed with. `fetch=False` leaves each one empty: enough for a
    plan that only asks which files are there."""
    if isinstance(store, FolderMedia):
        yield store.root
        return
    staging = store.staging("copies")
    staging.mkdir(parents=True)
    try:
        for key in dict.fromkeys(k for k in keys if k):
            dest = staging / checked_key(key)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if fetch:
                with contextlib.suppress(MissingMediaError):
                    store.get_file(key, dest)
            elif store.exists(key):
                dest.touch()
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------- choosing one


MEDIA_URL_FORMS = "an absolute folder path (/srv/studio/media) or s3://bucket/prefix"


def parse_media_url(url: str) -> tuple[str, str] | None:
    """(bucket, prefix) of an s3:// URL, None for an absolute folder (`~` counts); ParamsError for
    another scheme, no bucket, or a relative path (a forgotten `s3://` would otherwise put each
    machine's media in a folder under wherever it was started)."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() == S3_SCHEME:
        if not parts.netloc or "@" in parts.netloc or parts.query or parts.fragment:
            raise ParamsError("an S3 URL is s3://bucket or s3://bucket/prefix (credentials go in AWS_* variables)")
        return parts.netloc, parts.path.strip("/")
    if "://" in text:
        raise ParamsError(f"must be {MEDIA_URL_FORMS}")
    if not Path(text).expanduser().is_absolute():
        guess = text.lstrip("./")
        hint = f"; did you mean s3://{guess}?" if guess and not text.startswith(("~", ".")) else ""
        raise ParamsError(f"must be {MEDIA_URL_FORMS}, not a relative path{hint}")
    return None


def open_media(settings: Settings, *, client: Any = None) -> MediaStore:
    """The media store `settings.media_url` names: unset or a folder is FolderMedia (the folder,
    or <data folder>/media); s3://bucket/prefix is S3Media with a boto3 client built from the
    usual AWS variables (`client`: one made already, the test seam). Nothing is contacted here:
    `check()` does that at start-up."""
    target = parse_media_url(settings.media_url) if settings.media_url else None
    if target is None:
        return FolderMedia(settings.media_dir)
    bucket, prefix = target
    public = settings.media_public_endpoint
    return S3Media(
        bucket,
        prefix,
        client or s3_client(),
        staging_dir=Path(settings.data_dir) / STAGING_DIR,
        signer=s3_client(endpoint=public) if public else None,
    )


def s3_client(*, endpoint: str | None = None) -> Any:
    """A boto3 S3 client from the environment: endpoint, region and credentials as boto3 reads them
    (`endpoint`: another endpoint with the same credentials, e.g. the one browsers reach)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MediaError(
            "STUDIO_MEDIA_URL names an S3 bucket, but boto3 is not installed: pip install -e '.[scale]'"
        ) from None
    endpoint = endpoint or next((os.environ[v] for v in ENDPOINT_VARIABLES if os.environ.get(v)), None)
    region = next((os.environ[v] for v in REGION_VARIABLES if os.environ.get(v)), None)
    config = Config(
        signature_version="s3v4",
        # An endpoint of our own (SeaweedFS, MinIO, an IP address) takes bucket names in the path.
        s3={"addressing_style": "path" if endpoint else "auto"},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
    try:
        return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)
    except ValueError as err:  # a malformed endpoint URL
        raise MediaError(f"AWS_ENDPOINT_URL is not a URL boto3 can use: {err}") from None
