"""Metadata instructions as config edits, and `imgtool import --change`."""

from __future__ import annotations

import json

import pytest

from imgtool.builder.imageconfig import PortSpecError, apply, apply_changes, ports
from imgtool.dockerfile import StageScope, parse
from imgtool.errors import ImgtoolError
from imgtool.oci.config import ContainerConfig


def build_config(dockerfile: str) -> ContainerConfig:
    stage = parse(dockerfile).stages[-1]
    scope = StageScope({}, {})
    config = ContainerConfig()
    for instruction in stage.instructions:
        config = apply(config, scope.dispatch(instruction))
    return config


def test_docker_semantics_of_each_instruction():
    config = build_config(
        "FROM scratch\n"
        "ENV A=1 B=2\nENV A=3 C=$A\n"
        'LABEL x=1 "y z"=2\n'
        "CMD [\"old\"]\nENTRYPOINT [\"/entry\"]\n"
        "SHELL [\"/bin/bash\", \"-ec\"]\nCMD echo $HOME\n"
        "EXPOSE 80 53/UDP\nUSER nobody\nWORKDIR /a\nWORKDIR b/../c\n"
        "VOLUME /data\nSTOPSIGNAL SIGINT\nONBUILD RUN make\n"
        "HEALTHCHECK --interval=5s --retries=2 CMD true\n"
    )
    # ENV sees values from before the instruction; an existing key is replaced where it stands (addEnv)
    assert config.env == ("A=3", "B=2", "C=1")
    assert config.labels == {"x": "1", "y z": "2"}
    assert config.entrypoint == ("/entry",)
    assert config.cmd == ("/bin/bash", "-ec", "echo $HOME")  # shell form behind SHELL, not expanded
    assert config.exposed_ports == {"80/tcp": {}, "53/udp": {}}
    assert (config.user, config.working_dir, config.stop_signal) == ("nobody", "/a/c", "SIGINT")
    assert config.volumes == {"/data": {}}
    assert config.on_build == ("RUN make",)
    assert config.healthcheck == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}


@pytest.mark.parametrize("word, keys", [
    ("80", ("80/tcp",)),
    ("53/UDP", ("53/udp",)),
    ("0080", ("80/tcp",)),
    ("8000-8002/tcp", ("8000/tcp", "8001/tcp", "8002/tcp")),
    ("127.0.0.1:8080:80", ("80/tcp",)),
    ("9000:90/sctp", ("90/sctp",)),
    ("7/", ("7/tcp",)),
])
def test_expose_words_as_docker_parses_them(word, keys):
    assert ports(word) == keys


@pytest.mark.parametrize("word, message", [
    ("abc", "invalid containerPort: abc"),
    ("80/icmp", "invalid proto: icmp"),
    ("90-80", "invalid containerPort: 90-80"),
    ("65536", "invalid containerPort: 65536"),
    ("\u0663", "invalid containerPort"),
    ("nope:1:80", "invalid IP address: nope"),
    ("1-3:80-81", "invalid ranges specified"),
])
def test_expose_words_docker_refuses(word, message):
    with pytest.raises(PortSpecError, match=message):
        ports(word.encode().decode("unicode_escape"))


def test_entrypoint_resets_inherited_cmd():
    config = apply(ContainerConfig(cmd=("sh",)), parse('FROM x\nENTRYPOINT ["e"]').stages[0].instructions[0])
    assert config.cmd is None


def test_changes_and_their_errors():
    config = apply_changes(ContainerConfig(), ['ENV PATH=/bin', 'CMD ["sh"]', "ENV P2=$PATH:/x"])
    assert config.env == ("PATH=/bin", "P2=/bin:/x") and config.cmd == ("sh",)
    with pytest.raises(ImgtoolError, match=r"^--change 'RUN x': RUN is not allowed"):
        apply_changes(ContainerConfig(), ["RUN x"])
    with pytest.raises(ImgtoolError, match=r"^--change 'BOGUS 1': "):
        apply_changes(ContainerConfig(), ["BOGUS 1"])


def test_import_change_flag(store, busybox_rootfs, imgtool, tmp_path):
    imgtool("import", busybox_rootfs, "-t", "bb", "-c", 'CMD ["sh"]', "-c", "WORKDIR /tmp", check=True)
    image = store.resolve("bb")
    assert image.config.config.cmd == ("sh",) and image.config.config.working_dir == "/tmp"
    bad = imgtool("import", busybox_rootfs, "-t", "bb2", "-c", "COPY a b")
    assert bad.returncode != 0 and bad.stderr.startswith("imgtool: --change 'COPY a b': COPY is not allowed")
    assert [e.name for e in store.images()] == ["bb"]
    assert json.loads(json.dumps(image.config.to_dict()))["config"]["Cmd"] == ["sh"]
