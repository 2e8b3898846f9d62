"""Each false-positive control and structural check on its own (research/inspect.md §4.4)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from imgtool.inspect import filters, tokens
from imgtool.inspect.match import Where
from imgtool.inspect.rules import detect
from imgtool.inspect.scan import _pairs

from .values import Gen

CONFIG = Where("file", "app/config.yaml")
SOURCE = Where("file", "app/main.py")
TEXT = Where("file", "app/notes.txt")


def rules(text: str, where: Where = CONFIG) -> list[str]:
    return [m.rule_id for m in detect(text, where)]


@pytest.mark.parametrize("value", ["changeme", "${DB_PASSWORD}", "{{ .Values.pw }}", "<password>", "%PASSWORD%",
                                   "xxxxxxxxxxxx", "your-api-key-here", "********", "$SECRET", "EXAMPLE_KEY_HERE"])
def test_placeholders(value):
    assert filters.placeholder(value)


@pytest.mark.parametrize("value, reason", [
    ("5f4dcc3b5aa765d61d8327deb882cf99", "hash"), ("$2b$12$abcdefghijklmnopqrstuv", "hash"),
    ("sha256:" + "a" * 64, "placeholder"), ("123e4567-e89b-42d3-a456-426614174000", "uuid"),
    ("data:image/png;base64,iVBORw0KGgo", "data"), ("/run/app/db.conf", "path-or-number"),
    ("settings.DB_KEY", "reference"), ("os.environ['X']", "reference"), ("abc", "short"),
    ("Enter your password", "prose"), ("abcdefghij123456", "sequential"), ("aaaaaaab", "placeholder"),
    ("1712049385", "path-or-number"),
])
def test_generic_rejects_say_why(value, reason):
    assert filters.generic_rejects(value) == reason


def test_generic_accepts_a_random_password():
    assert filters.generic_rejects(Gen(1).password(18)) is None


def test_entropy_examples():
    assert filters.entropy("aaaa") == 0 and filters.entropy("ab") == 1
    assert filters.entropy("abcdefghijklmnopqrstuvwxyz") > 4.69


def test_github_checksum_decides_confidence():
    token = Gen(2).github()
    (m,) = detect(f"token {token}", TEXT)
    assert m.rule_id == "github-token" and m.confidence == "high"
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")
    (m,) = detect(f"token {broken}", TEXT)
    assert m.confidence == "medium"
    assert tokens.crc32_checksum(token[4:-6]) == token[-6:]


def test_token_shapes_need_random_bodies():
    assert rules("ghp_" + "x" * 36, TEXT) == []
    assert rules("AKIA" + "X" * 16, TEXT) == []
    assert rules("npm_" + "0123456789" * 3 + "abcdef", TEXT) == []
    assert rules("https://hooks.slack.com/services/T00000000/B00000000/" + "X" * 24, TEXT) == []


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_private_keys_must_parse():
    pem = _pem()
    assert rules(pem, TEXT) == ["private-key"]
    assert rules('if line == "-----BEGIN RSA PRIVATE KEY-----":', SOURCE) == []
    body = pem.splitlines()
    truncated = "\n".join(body[:2] + ["...", body[-1]])
    assert rules(truncated, TEXT) == []
    escaped = json.dumps({"key": pem})
    assert rules(escaped, Where("file", "app/k.json")) == ["private-key"]
    assert rules(pem, Where("file", "root/.ssh/id_ecdsa")) == ["ssh-private-key"]
    assert rules(pem, Where("file", "etc/ssl/private/tls.key")) == ["tls-private-key"]


def test_public_material_is_never_a_finding():
    from .values import certificate_and_public_key

    cert, pub = certificate_and_public_key()
    assert rules(cert + pub, TEXT) == []


def test_jwt_needs_a_json_header_and_the_jwtio_sample_is_an_example():
    g = Gen(3)
    jwt = g.jwt()
    assert rules(f"Bearer {jwt}", TEXT) == ["jwt"]
    fake = "eyJ" + g.s(20) + ".eyJ" + g.s(20) + "." + g.s(20)
    assert rules(fake, TEXT) == []
    header = base64.urlsafe_b64encode(b'{"alg":"HS256"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"John Doe"}').decode().rstrip("=")
    (m,) = detect(f"{header}.{body}.{g.s(43)}", TEXT)
    assert m.example


def test_specific_rules_beat_the_generic_one_on_the_same_span():
    token = Gen(4).github()
    assert rules(f"GITHUB_TOKEN={token}\n", Where("file", "app/.env")) == ["github-token"]
    url = f"https://bot:{token}@github.com\n"
    assert rules(url, Where("file", "root/.git-credentials")) == ["git-credentials"]


def test_generic_rule_is_gated_to_configuration_and_quoted_literals():
    pw = Gen(5).password(18)
    assert rules(f"password: {pw}\n", CONFIG) == ["generic-secret-assignment"]
    # notes and logs: a random value only (3,691 real .txt/.log files on the dev machine: no hit at 3.5 bits)
    assert rules(f"password = {pw}\n", TEXT) == ["generic-secret-assignment"]
    assert rules("password = Summer2024!\n", TEXT) == []
    assert rules(f'password = "{pw}"\n', SOURCE) == ["generic-secret-assignment"]
    assert rules(f"password = {pw}\n", SOURCE) == []
    assert rules(f"TOKEN_URL={pw}\nmax_tokens: {pw}\n", CONFIG) == []
    minified = "x" * 500 + f' password:"{pw}"'
    assert rules(minified, CONFIG) == []


def test_url_credentials_skip_placeholders():
    pw = Gen(6).s(14)
    assert rules(f"postgres://app:{pw}@db:5432/app", TEXT) == ["database-url"]
    for url in ("postgres://user:password@localhost/db", "https://u:${TOKEN}@github.com", "mysql://root:@db",
                "http://scott:tiger@host"):
        assert rules(url, TEXT) == [], url


def test_netrc_outside_a_netrc_file_needs_a_plain_long_value():
    assert rules("machine h login u password pass1", SOURCE) == []
    assert rules("machine h login u password pass1", Where("file", "root/.netrc")) == ["netrc-password"]


def test_history_build_args_and_instructions():
    assert list(_pairs("RUN |2 A=x B=y z /bin/sh -c true")) == [("A", "x", 9), ("B", "y", 13)]
    assert [(k, v) for k, v, _ in _pairs('/bin/sh -c #(nop)  ENV DB_PASSWORD="a b" X=1')] == [("DB_PASSWORD", "a b"), ("X", "1")]
    assert [(k, v) for k, v, _ in _pairs("/bin/sh -c #(nop)  ENV LEGACY some value")] == [("LEGACY", "some value")]
    text = "ENV LEGACY_PASSWORD Zq8vLr2mWx4kTn7p"
    ((k, v, at),) = list(_pairs(text))
    assert text[at:at + len(v)] == v


def test_credentials_on_command_lines():
    pw = Gen(7).s(16)
    history = Where("history", field="history[3].created_by")
    assert rules(f"RUN /bin/sh -c curl -fsSL -u deploy:{pw} https://artifacts.internal/x.tgz | tar xz", history) == [
        "command-line-credential"]
    assert rules(f"RUN /bin/sh -c docker login --password {pw} registry.internal", history) == ["command-line-credential"]
    auth = base64.b64encode(f"ci:{pw}".encode()).decode()
    assert rules(f"Authorization: Basic {auth}", TEXT) == ["basic-auth-header"]
    for text in ('curl -u "$USER:$PASS" https://x', "login --password \"$PW\"", 'parser.add_argument("--password", help="x")',
                 "Authorization: Basic " + base64.b64encode(b"user:password").decode()):
        assert rules(text, SOURCE) == [], text


def test_a_hardlink_holds_its_targets_secret(tmp_path):
    import io
    import tarfile

    from imgtool.inspect.analysis import analyze
    from imgtool.inspect.source import ImageSource
    from imgtool.layer.layer import from_bytes
    from imgtool.oci import mediatype
    from imgtool.oci.config import ImageConfig
    from imgtool.oci.descriptor import Descriptor
    from imgtool.oci.digest import of_bytes
    from imgtool.oci.manifest import Manifest

    token = Gen(8).github()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"GITHUB_TOKEN={token}\n".encode()
        info = tarfile.TarInfo("app/.env")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("root/.env")
        link.type, link.linkname = tarfile.LNKTYPE, "app/.env"
        tar.addfile(link)
    layer = from_bytes(buf.getvalue())
    config = ImageConfig("amd64", "linux", diff_ids=(layer.diff_id,))
    cfg_bytes = config.to_bytes()
    manifest = Manifest(Descriptor(mediatype.OCI_CONFIG, of_bytes(cfg_bytes), len(cfg_bytes)), (layer.descriptor,))
    source = ImageSource("t", layer.descriptor, manifest, cfg_bytes, config, lambda d: io.BytesIO(buf.getvalue()))
    result = analyze(source, secrets=True)
    assert sorted(f.path for f in result.findings) == ["/app/.env", "/root/.env"]
