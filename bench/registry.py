"""Registry benchmark: imgtool's registry vs Debian's docker-registry (distribution 2.8), side by side.

    python bench/registry.py [--rounds 5] [--seconds 5] [--markdown] [--storage filesystem|s3]
                             [--rows 200mb 20k 10x5 requests]

Both servers run on 127.0.0.1 with their shipped logging, on filesystem storage, or with
`--storage s3` on one moto S3 server (`moto_server`, started here; distribution's S3 driver against
imgtool's S3 backend, one bucket each; the 200 MB image is left out, moto keeps objects in
memory). Each round starts both on fresh roots and fresh ports (so skopeo's blob-info cache
cannot turn uploads into mounts), alternates which of the two goes first, syncs the page cache
before each timed copy (distribution does not fsync, so its writeback would land in the next
measurement), then times `skopeo copy` pushes (OCI layout -> registry) and pulls (registry -> OCI layout) of:
a 200 MB layer, a 20,000-file layer, and 10 x 5 MB layers; then measures small-request rates
(HEAD blob, GET manifest) with a keep-alive client (8 connections, one process each). Reported
numbers are medians over rounds; ratio > 1 means imgtool is faster.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sidebyside import print_table, table, timed  # noqa: E402

MB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- test images ---------------------------------------------------------------------------------

def _write_blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _gzip_fast(data: bytes) -> bytes:
    try:
        from isal import igzip

        return igzip.compress(data, 0)
    except ImportError:
        return gzip.compress(data, 1)


def make_layout(layout: Path, layers: list[bytes]) -> None:
    """An OCI layout with one image `bench` made of the given (already gzipped) layers."""
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_write_blob(layout, x)} for x in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descs]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_write_blob(layout, config)},
                           "layers": descs}).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, **_write_blob(layout, manifest),
                                                "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}
    (layout / "index.json").write_text(json.dumps(index))


def _tar_of_files(count: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(count):
            body = f"file {i}\n".encode() * 8
            info = tarfile.TarInfo(f"d{i // 1000}/f{i}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


_IMAGES = {  # name -> its layers, made only when asked for (the 200 MB one takes seconds)
    "200 MB layer": lambda: [_gzip_fast(os.urandom(200 * MB))],
    "20,000-file layer": lambda: [_gzip_fast(_tar_of_files(20_000))],
    "10 x 5 MB layers": lambda: [_gzip_fast(os.urandom(5 * MB)) for _ in range(10)],
}
# --rows names: an image's push and pull rows, or the small-request rows (which read the 10 x 5 MB image)
ROWS = {"200mb": "200 MB layer", "20k": "20,000-file layer", "10x5": "10 x 5 MB layers", "requests": None}
ROWS_OF = {image: row for row, image in ROWS.items() if image}


def make_images(work: Path, skip_large: bool = False, only: set[str] | None = None) -> dict[str, Path]:
    """The benchmark images as OCI layouts: all three, or those named in `only`, less the 200 MB one
    with `skip_large`."""
    out = {}
    for name, layers in _IMAGES.items():
        if (skip_large and name == "200 MB layer") or (only is not None and name not in only):
            continue
        path = work / "images" / name.replace(" ", "_").replace(",", "")
        make_layout(path, layers())
        out[name] = path
    return out


# --- servers -------------------------------------------------------------------------------------

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


class MotoS3:
    """moto's S3 server on a loopback port, with a fresh bucket per registry."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **S3_ENV})
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    def bucket(self, name: str) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **{
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}).create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_imgtool(root: Path, port: int, s3: MotoS3 | None = None) -> subprocess.Popen:
    args = ["--root", str(root), "--addr", f"127.0.0.1:{port}"]
    if s3 is not None:
        config = root.parent / f"imgtool-{port}.toml"
        config.write_text(f'storage = "s3"\ns3_bucket = "{s3.bucket(f"imgtool-{port}")}"\n'
                          f's3_endpoint = "{s3.endpoint}"\ns3_path_style = true\n')
        args += ["--config", str(config)]
    return subprocess.Popen([sys.executable, "-m", "registry", "serve", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **S3_ENV})


def start_distribution(root: Path, port: int, s3: MotoS3 | None = None) -> subprocess.Popen:
    config = root.parent / f"distribution-{port}.yml"
    if s3 is None:
        driver = f"  filesystem:\n    rootdirectory: {root}\n"
    else:
        driver = (f"  s3:\n    accesskey: testing\n    secretkey: testing\n    region: us-east-1\n"
                  f"    regionendpoint: {s3.endpoint}\n    bucket: {s3.bucket(f'distribution-{port}')}\n"
                  "    secure: false\n    v4auth: true\n    chunksize: 8388608\n    rootdirectory: /\n"
                  "  redirect:\n    disable: true\n")  # serve blobs itself, as imgtool does (no presigned 307)
    config.write_text(
        "version: 0.1\nlog:\n  fields:\n    service: registry\nstorage:\n  cache:\n    blobdescriptor: inmemory\n"
        f"{driver}  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    # aws-sdk-go (v1, in distribution 2.8) panics on AWS_CA_BUNDLE with distribution's own transport;
    # moto is plain HTTP, so no bundle is needed
    env = {**{k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}, **S3_ENV}
    return subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"registry on {port} did not start")


# --- measurements --------------------------------------------------------------------------------

def skopeo(*args: str) -> float:
    """One timed `skopeo copy`, from a clean page cache: distribution does not fsync, so its dirty
    pages would otherwise be written back during whatever is timed next (often the other registry)."""
    return timed(["skopeo", "copy", "-q", *args], sync=True)


def _keepalive_worker(args: tuple[int, bytes, float]) -> int:
    """One keep-alive connection sending the same request until the deadline; returns responses."""
    port, request, seconds = args
    head = request.startswith(b"HEAD")
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    deadline = time.perf_counter() + seconds
    count, buf = 0, b""
    while time.perf_counter() < deadline:
        sock.sendall(request)
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(65536)
        header, _, buf = buf.partition(b"\r\n\r\n")
        if not header.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(header.decode(errors="replace")[:200])
        length = 0
        for line in header.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if not head:
            while len(buf) < length:
                buf += sock.recv(65536)
            buf = buf[length:]
        count += 1
    sock.close()
    return count


def rate(port: int, method: str, path: str, accept: str, seconds: float, connections: int = 8) -> float:
    request = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n".encode()
    with multiprocessing.Pool(connections) as pool:
        counts = pool.map(_keepalive_worker, [(port, request, seconds)] * connections)
    return sum(counts) / seconds


def one_round(work: Path, images: dict[str, Path], seconds: float, results: dict, s3: MotoS3 | None,
              flip: bool = False, rows: set[str] = frozenset(ROWS)) -> None:
    """Both registries on fresh roots and ports; each image pushed and pulled through one, then the
    other (interleaved), then the request rates. Only the `rows` asked for are recorded."""
    servers = {}
    procs = []
    order = (("imgtool", start_imgtool), ("distribution", start_distribution))
    for name, start in (order[::-1] if flip else order):  # alternate who goes first, round by round
        port = free_port()
        root = work / f"{name}-{port}"
        root.mkdir()
        procs.append(start(root, port, s3))
        servers[name] = port
    try:
        for port in servers.values():
            wait_up(port)
        for image, layout in images.items():
            for name, port in servers.items():
                dest = f"docker://127.0.0.1:{port}/bench/{image.split()[0].replace(',', '')}:v1"
                push = skopeo("--dest-tls-verify=false", f"oci:{layout}:bench", dest)
                out = work / f"pull-{name}-{port}"
                pull = skopeo("--src-tls-verify=false", dest, f"oci:{out}:bench")
                shutil.rmtree(out)
                if ROWS_OF[image] in rows:
                    results.setdefault((f"push {image} (s)", name), []).append(push)
                    results.setdefault((f"pull {image} (s)", name), []).append(pull)
        if "requests" not in rows:
            return
        layout = images["10 x 5 MB layers"]
        index = json.loads((layout / "index.json").read_text())
        manifest_digest = index["manifests"][0]["digest"]
        manifest = json.loads((layout / "blobs" / manifest_digest.replace(":", "/")).read_bytes())
        layer = manifest["layers"][0]["digest"]
        for name, port in servers.items():
            results.setdefault(("HEAD blob (req/s)", name), []).append(
                rate(port, "HEAD", f"/v2/bench/10/blobs/{layer}", "*/*", seconds))
            results.setdefault(("GET manifest (req/s)", name), []).append(
                rate(port, "GET", "/v2/bench/10/manifests/v1", OCI_MANIFEST, seconds))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each request-rate run")
    parser.add_argument("--markdown", action="store_true", help="print a table for docs/benchmarks.md")
    parser.add_argument("--storage", choices=("filesystem", "s3"), default="filesystem")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS),
                        help="only these rows: an image's push+pull, or the request rates")
    args = parser.parse_args()
    rows = set(args.rows)
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/registry.py: {tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory(prefix="regbench-") as tmp:
        work = Path(tmp)
        wanted = {ROWS[r] for r in rows if ROWS[r]} | ({"10 x 5 MB layers"} if "requests" in rows else set())
        images = make_images(work, skip_large=args.storage == "s3", only=wanted)
        results: dict = {}
        s3 = MotoS3() if args.storage == "s3" else None
        try:
            for number in range(args.rounds):
                one_round(work, images, args.seconds, results, s3, flip=number % 2 == 1, rows=rows)
        finally:
            if s3 is not None:
                s3.stop()
    print_table(table(results, "imgtool", "distribution"), ("imgtool", "distribution 2.8"), args.markdown)


if __name__ == "__main__":
    main()
