"""``S3FileIO``: the shared store on an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, ...).

Reads, listings, deletes and heartbeats go through ``pyarrow.fs.S3FileSystem``;
boto3 does what pyarrow lacks: the conditional PUT (``If-None-Match: *``)
that makes ``create`` and ``upload`` exclusive -- of several writers
creating one key, exactly one succeeds, the others get 412 -- and the
checks behind the one-line configuration errors.

Configuration, first found wins: the explicit ``storage_options`` (or a
``pyarrow.fs.S3FileSystem``), then the standard AWS variables
(``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``/
``AWS_DEFAULT_REGION``, ``AWS_PROFILE``), then the SDKs' own chain (shared
credentials file, instance metadata).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from arrowscope.errors import StorageConfigError
from arrowscope.store.fileio import StoredFile

_OPTION_NAMES: Final = (
    "endpoint_url",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "region",
    "profile",
)
_TIMEOUT_S: Final = 10.0
_CHUNK: Final = 8 << 20
# The keys arrowscope writes at the top of a store's prefix.
STORE_NAMES: Final = frozenset({"metrics", "events", "catalog", "_ids", "_names", "_writers"})


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is and how to sign requests; None leaves it to the AWS SDKs."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    region: str | None = None
    profile: str | None = None

    @classmethod
    def resolve(cls, options: Mapping[str, str] | None) -> S3Settings:
        """Settings from ``options`` (``aws_`` prefixes allowed), else the AWS variables.

        Raises:
            ValueError: an option arrowscope does not know, naming the ones it does.
        """
        given: dict[str, str] = {}
        for name, value in (options or {}).items():
            key = name.lower().removeprefix("aws_")
            if key == "endpoint":
                key = "endpoint_url"
            if key == "allow_http":
                continue
            if key not in _OPTION_NAMES:
                raise ValueError(f"unknown storage option {name!r}; use {', '.join(_OPTION_NAMES)}")
            given[key] = value
        env = os.environ
        return cls(
            endpoint_url=given.get("endpoint_url")
            or env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL"),
            access_key_id=given.get("access_key_id") or env.get("AWS_ACCESS_KEY_ID"),
            secret_access_key=given.get("secret_access_key") or env.get("AWS_SECRET_ACCESS_KEY"),
            session_token=given.get("session_token") or env.get("AWS_SESSION_TOKEN"),
            region=given.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            profile=given.get("profile") or env.get("AWS_PROFILE"),
        )

    @classmethod
    def of_filesystem(cls, filesystem: Any) -> S3Settings:
        """The settings a ``pyarrow.fs.S3FileSystem`` was made with (boto3 needs them too)."""
        _, (kwargs,) = filesystem.__reduce__()
        endpoint = kwargs.get("endpoint_override") or None
        if endpoint and "://" not in endpoint:
            endpoint = f"{kwargs.get('scheme') or 'https'}://{endpoint}"
        return cls(
            endpoint_url=endpoint,
            access_key_id=kwargs.get("access_key") or None,
            secret_access_key=kwargs.get("secret_key") or None,
            session_token=kwargs.get("session_token") or None,
            region=kwargs.get("region") or None,
        )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (prefix without slashes at the ends).

    Raises:
        ValueError: not an ``s3://`` URI with a bucket name.
    """
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{uri!r} is not an S3 URI: use s3://bucket or s3://bucket/prefix")
    if parts.query or parts.fragment:
        raise ValueError(f"{uri!r}: an S3 URI has no ?query or #fragment")
    return parts.netloc, parts.path.strip("/")


class S3FileIO:
    """``FileIO`` on ``s3://bucket/prefix``.

    Args:
        uri: ``s3://bucket`` or ``s3://bucket/prefix``.
        filesystem: A ``pyarrow.fs.S3FileSystem`` to use (its settings are
            also given to boto3); default: one made from ``storage_options``
            and the AWS variables.
        storage_options: ``endpoint_url``, ``access_key_id``,
            ``secret_access_key``, ``session_token``, ``region``, ``profile``
            (polars' ``aws_``-prefixed spellings are accepted too).

    Raises:
        StorageConfigError: boto3 is missing (``pip install 'arrowscope[s3]'``).
    """

    def __init__(
        self,
        uri: str,
        filesystem: Any = None,
        storage_options: Mapping[str, str] | None = None,
    ) -> None:
        self.bucket, self.prefix = split_s3_uri(uri)
        self._uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        if filesystem is not None and storage_options:
            raise ValueError("give either filesystem or storage_options, not both")
        self.settings = (
            S3Settings.of_filesystem(filesystem)
            if filesystem is not None
            else S3Settings.resolve(storage_options)
        )
        self.fs = filesystem if filesystem is not None else _pyarrow_filesystem(self.settings)
        self._client = _boto3_client(self.settings, self._uri)

    @property
    def uri(self) -> str:
        return self._uri

    def key(self, path: str) -> str:
        """The object key of a store path."""
        return f"{self.prefix}/{path}" if self.prefix else path

    def create(self, path: str, data: bytes = b"") -> bool:
        return self._put_if_absent(path, data)

    def make_dir(self, path: str) -> bool:
        # Object stores have no directories: a marker object stands for one.
        return self._put_if_absent(f"{path}/.exists", b"")

    def put(self, path: str, data: bytes) -> None:
        try:
            with self.fs.open_output_stream(f"{self.bucket}/{self.key(path)}") as out:
                out.write(data)
        except PermissionError:
            raise
        except OSError as exc:
            if "ACCESS_DENIED" in str(exc) or "AccessDenied" in str(exc):
                raise PermissionError(f"{self._uri}/{path}: access denied ({exc})") from exc
            raise

    def read(self, path: str) -> bytes:
        with self.fs.open_input_stream(f"{self.bucket}/{self.key(path)}") as stream:
            return bytes(stream.read())

    def upload(self, local: Path, path: str) -> bool:
        with open(local, "rb") as body:
            return self._put_if_absent(path, body)

    def download(self, path: str, local: Path) -> None:
        with (
            self.fs.open_input_stream(f"{self.bucket}/{self.key(path)}") as stream,
            open(local, "wb") as out,
        ):
            while chunk := stream.read(_CHUNK):
                out.write(chunk)

    def list_files(self, prefix: str) -> list[StoredFile]:
        from pyarrow.fs import FileSelector, FileType

        base = f"{self.bucket}/{self.key(prefix)}".rstrip("/")
        skip = len(f"{self.bucket}/{self.prefix}/") if self.prefix else len(f"{self.bucket}/")
        infos = self.fs.get_file_info(FileSelector(base, recursive=True, allow_not_found=True))
        return sorted(
            StoredFile(info.path[skip:], info.size or 0, info.mtime_ns or 0)
            for info in infos
            if info.type == FileType.File
        )

    def children(self, prefix: str) -> list[str]:
        from pyarrow.fs import FileSelector

        base = f"{self.bucket}/{self.key(prefix)}".rstrip("/")
        infos = self.fs.get_file_info(FileSelector(base, recursive=False, allow_not_found=True))
        return sorted(info.base_name for info in infos)

    def delete(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(f"{self.bucket}/{self.key(path)}")

    def check(self) -> None:
        """Reach the bucket, with the credentials, and look at the prefix; fail in one line.

        Raises:
            StorageConfigError: the endpoint cannot be reached, the
                credentials are missing or refused, the bucket does not
                exist, or the prefix holds objects arrowscope did not write.
        """
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        endpoint = self.settings.endpoint_url or "the AWS endpoint"
        try:
            self._client.head_bucket(Bucket=self.bucket)
            top = self._client.list_objects_v2(
                Bucket=self.bucket,
                Prefix=f"{self.prefix}/" if self.prefix else "",
                Delimiter="/",
                MaxKeys=50,
            )
        except NoCredentialsError as exc:
            raise StorageConfigError(
                self._uri,
                "no credentials found",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
                "or pass storage_options",
            ) from exc
        except EndpointConnectionError as exc:
            raise StorageConfigError(
                self._uri,
                f"cannot reach {endpoint}",
                "check AWS_ENDPOINT_URL (e.g. http://127.0.0.1:8333) and that the server runs",
            ) from exc
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("404", "NoSuchBucket") or status == 404:
                raise StorageConfigError(
                    self._uri,
                    f"bucket {self.bucket!r} does not exist at {endpoint}",
                    f"create it (aws s3 mb s3://{self.bucket}) or fix the URI",
                ) from exc
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or (
                status == 403
            ):
                raise StorageConfigError(
                    self._uri,
                    f"{endpoint} refused the credentials ({code or status})",
                    "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_PROFILE",
                ) from exc
            raise StorageConfigError(
                self._uri, f"{code or status}: {exc}", "see the message"
            ) from exc
        except BotoCoreError as exc:
            raise StorageConfigError(
                self._uri, str(exc), "check AWS_ENDPOINT_URL and the credentials"
            ) from exc
        names = [
            p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in top.get("CommonPrefixes", [])
        ] + [o["Key"].rsplit("/", 1)[-1] for o in top.get("Contents", [])]
        foreign = sorted(n for n in names if n not in STORE_NAMES)
        if foreign:
            raise StorageConfigError(
                self._uri,
                f"the prefix holds objects arrowscope did not write ({', '.join(foreign[:3])})",
                "use an empty prefix, e.g. s3://bucket/runs, or one arrowscope wrote",
            )

    def _put_if_absent(self, path: str, body: Any) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        for _ in range(8):
            try:
                self._client.put_object(
                    Bucket=self.bucket, Key=self.key(path), Body=body, IfNoneMatch="*"
                )
                return True
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "PreconditionFailed":
                    return False
                if code != "ConditionalRequestConflict":  # AWS: a concurrent create; retry
                    raise _os_error(f"{self._uri}/{path}", exc) from exc
                if hasattr(body, "seek"):
                    body.seek(0)
            except BotoCoreError as exc:
                raise OSError(f"{self._uri}/{path}: {exc}") from exc
        raise OSError(f"{self._uri}/{path}: conditional create kept conflicting")


def _os_error(where: str, exc: Any) -> OSError:
    """A boto3 ``ClientError`` as the ``OSError`` the rest of the store handles."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = f"{where}: {code}: {error.get('Message', exc)}"
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return PermissionError(message)
    if code in ("NoSuchBucket", "NoSuchKey", "404"):
        return FileNotFoundError(message)
    return OSError(message)


def _pyarrow_filesystem(settings: S3Settings) -> Any:
    from pyarrow.fs import AwsStandardS3RetryStrategy, S3FileSystem

    kwargs: dict[str, Any] = {
        "connect_timeout": _TIMEOUT_S,
        "request_timeout": 60.0,
        "retry_strategy": AwsStandardS3RetryStrategy(max_attempts=3),
        "region": settings.region or "us-east-1",
    }
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        kwargs["endpoint_override"] = parts.netloc or settings.endpoint_url
        kwargs["scheme"] = parts.scheme or "https"
    if settings.access_key_id and settings.secret_access_key:
        kwargs["access_key"] = settings.access_key_id
        kwargs["secret_key"] = settings.secret_access_key
        if settings.session_token:
            kwargs["session_token"] = settings.session_token
    return S3FileSystem(**kwargs)


def _boto3_client(settings: S3Settings, uri: str) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise StorageConfigError(
            uri, "boto3 is not installed", "pip install 'arrowscope[s3]'"
        ) from exc
    session = boto3.session.Session(profile_name=settings.profile) if settings.profile else boto3
    return session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        region_name=settings.region or "us-east-1",
        config=Config(
            s3={"addressing_style": "path"} if settings.endpoint_url else {},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=_TIMEOUT_S,
            read_timeout=60,
        ),
    )
