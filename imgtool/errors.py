"""Typed errors. Every user-facing failure is an ImgtoolError whose message is one line.

The CLI is the only place that prints: it catches ImgtoolError, prints `imgtool: <message>` to
stderr and exits with `exit_code`. Anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class ImgtoolError(Exception):
    """Base class: the message is the one line the user sees."""

    exit_code = 1


class InvalidDigestError(ImgtoolError):
    """A digest string that does not parse, or content that does not match its digest."""


class DigestMismatchError(InvalidDigestError):
    """Bytes whose digest is not the one they were announced with."""


class InvalidReferenceError(ImgtoolError):
    """An image reference (name, tag, digest) that does not parse."""


class SchemaError(ImgtoolError):
    """A manifest, index or config that is not valid JSON or fails the OCI schema."""


class UnknownMediaTypeError(ImgtoolError):
    """A media type imgtool does not handle where it must understand the content."""


class LayerError(ImgtoolError):
    """A layer blob that cannot be read: corrupt compression, hostile tar entries, bombs."""


class NotFoundError(ImgtoolError):
    """A name, blob or file that does not exist."""


class StoreError(ImgtoolError):
    """The local content store is inconsistent or cannot be written."""


class RegistryError(ImgtoolError):
    """A registry that is unreachable, refuses a request, or answers against the distribution spec."""


class AuthError(RegistryError):
    """Missing or wrong credentials for a registry (the message never contains a secret)."""


class InvalidResourceError(ImgtoolError):
    """A resource flag docker would refuse (--memory 1k, --cpus nan): exit 125, as `docker run`'s."""

    exit_code = 125
