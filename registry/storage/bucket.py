"""One S3 bucket (and key prefix) as the registry uses it: small objects, listings, multipart uploads.

A thin layer over boto3 that turns "no such key" into None and any other S3 failure into one
RegistryError (503 UNAVAILABLE-style, never a traceback), so the backend above reads like the
filesystem one. The client is thread-safe; the server calls it from its worker threads.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import RegistryError

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


@dataclass(frozen=True)
class Entry:
    """A listed object: key (without the prefix), size, last-modified time (epoch seconds)."""

    key: str
    size: int
    modified: float


class Unavailable(RegistryError):
    """The bucket did not answer as it should (network, credentials, throttling)."""

    def __init__(self, operation: str, exc: Exception):
        super().__init__("UNKNOWN", f"object storage {operation} failed: {str(exc)[:200]}", status=503)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Bucket:
    """Objects under `prefix` in one bucket."""

    def __init__(self, bucket: str, prefix: str = "", endpoint: str | None = None, region: str = "us-east-1",
                 path_style: bool = False, pool: int = 32):
        self.name = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = BotoConfig(
            s3={"addressing_style": "path" if path_style else "auto"},
            max_pool_connections=pool,  # at least the worker threads that call it at once
            retries={"mode": "standard", "total_max_attempts": 4},
            request_checksum_calculation="when_required",  # S3 clones reject the newer checksum headers
            response_checksum_validation="when_required",
        )
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(Bucket=self.name, **kwargs)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise
            raise Unavailable(operation, exc) from None
        except BotoCoreError as exc:
            raise Unavailable(operation, exc) from None

    def key(self, name: str) -> str:
        """The full object key of a registry-relative name."""
        return self.prefix + name

    def get(self, name: str) -> bytes | None:
        """An object's bytes, or None."""
        got = self._call("get_object", Key=self.key(name))
        return None if got is None else got["Body"].read()

    def stream(self, name: str, first: int, last: int) -> BinaryIO | None:
        """A readable body of bytes first..last (inclusive), or None."""
        got = self._call("get_object", Key=self.key(name), Range=f"bytes={first}-{last}")
        return None if got is None else got["Body"]

    def head(self, name: str) -> Entry | None:
        """Size and modification time, or None."""
        got = self._call("head_object", Key=self.key(name))
        if got is None:
            return None
        return Entry(name, got["ContentLength"], got["LastModified"].timestamp())

    def put(self, name: str, data: bytes, if_absent: bool = False) -> bool:
        """Write an object; with `if_absent`, only if none exists (False then, nothing written)."""
        extra = {"IfNoneMatch": "*"} if if_absent else {}
        try:
            self._call("put_object", Key=self.key(name), Body=data, **extra)
        except ClientError:
            return False
        return True

    def clock(self) -> float:
        """The bucket's idea of now (epoch seconds): object times are in its clock, not ours."""
        got = self._call("put_object", Key=self.key("_gc/clock"), Body=b"")
        date = got["ResponseMetadata"]["HTTPHeaders"].get("date") if got else None
        return email.utils.parsedate_to_datetime(date).timestamp() if date else 0.0

    def delete(self, name: str) -> None:
        """Remove an object (no error if it is not there)."""
        self._call("delete_object", Key=self.key(name))

    def delete_many(self, names: list[str]) -> None:
        """Remove objects, 1000 per request."""
        for i in range(0, len(names), 1000):
            keys = [{"Key": self.key(n)} for n in names[i:i + 1000]]
            self._call("delete_objects", Delete={"Objects": keys, "Quiet": True})

    def list(self, under: str) -> Iterator[Entry]:
        """Every object whose name starts with `under`, in key order."""
        kwargs: dict[str, Any] = {"Prefix": self.key(under)}
        while True:
            page = self._call("list_objects_v2", **kwargs) or {}
            for item in page.get("Contents", []):
                yield Entry(item["Key"][len(self.prefix):], item["Size"], item["LastModified"].timestamp())
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def folders(self, under: str) -> list[str]:
        """The next path components below `under` (a `/`-terminated name), like `ls`."""
        kwargs: dict[str, Any] = {"Prefix": self.key(under), "Delimiter": "/"}
        out: list[str] = []
        while True:
            page = self._call("list_objects_v2", **kwargs) or {}
            out += [p["Prefix"][len(self.key(under)):].rstrip("/") for p in page.get("CommonPrefixes", [])]
            if not page.get("IsTruncated"):
                return out
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    # --- multipart -------------------------------------------------------------------------------
    def start_multipart(self, name: str) -> str:
        """A new multipart upload id for `name`."""
        return self._call("create_multipart_upload", Key=self.key(name))["UploadId"]

    def upload_part(self, name: str, upload_id: str, number: int, data: bytes) -> str:
        """Upload part `number`; returns its ETag."""
        got = self._call("upload_part", Key=self.key(name), UploadId=upload_id, PartNumber=number, Body=data)
        if got is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session expired")
        return got["ETag"]

    def complete_multipart(self, name: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Assemble the parts into the object `name`."""
        listed = [{"PartNumber": n, "ETag": etag} for n, etag in parts]
        if self._call("complete_multipart_upload", Key=self.key(name), UploadId=upload_id,
                      MultipartUpload={"Parts": listed}) is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "upload session expired")

    def abort_multipart(self, name: str, upload_id: str) -> None:
        """Drop a multipart upload and its parts."""
        self._call("abort_multipart_upload", Key=self.key(name), UploadId=upload_id)

    def copy(self, source: str, dest: str) -> None:
        """Server-side copy (boto3's managed copy: multipart above 5 GiB)."""
        try:
            self.client.copy({"Bucket": self.name, "Key": self.key(source)}, self.name, self.key(dest))
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("copy", exc) from None

    def probe(self) -> str:
        """"" if the bucket answers, else why not."""
        try:
            self.client.head_bucket(Bucket=self.name)
        except (ClientError, BotoCoreError) as exc:
            return str(exc)[:200]
        return ""
