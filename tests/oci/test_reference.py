import pytest

from imgtool.errors import InvalidReferenceError
from imgtool.oci import reference


@pytest.mark.parametrize("text,full,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox"),
    ("myorg/app:v1", "docker.io/myorg/app:v1", "myorg/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app"),
    ("localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app"),
    ("[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app:x"),
    ("quay.io/org/app_x.y-z:1.0_rc", "quay.io/org/app_x.y-z:1.0_rc", "quay.io/org/app_x.y-z:1.0_rc"),
])
def test_normalisation_as_docker(text, full, familiar):
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar


def test_digest_reference_has_no_default_tag():
    d = "sha256:" + "ab" * 32
    ref = reference.parse(f"busybox@{d}")
    assert ref.tag is None and str(ref.digest) == d
    assert ref.identifier == d
    assert str(reference.parse(f"busybox:1@{d}")) == f"docker.io/library/busybox:1@{d}"


@pytest.mark.parametrize("text", [
    "", "org/UPPER", "Busybox", "busybox:", "busybox:-bad", "a//b", "a/b/", "-leading", "busybox@sha256:short",
    "host:port/x", "a" * 256, "busybox:" + "t" * 129, "../etc/passwd",
    "busybox:latest\n", "busybox\n", "busybox:\u00e9t\u00e9", "example.com\n/busybox",
])
def test_invalid_references(text):
    with pytest.raises(InvalidReferenceError):
        reference.parse(text)
