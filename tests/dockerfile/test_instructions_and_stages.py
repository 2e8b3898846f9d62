"""Typed instructions, flags, ARG/ENV scoping, stage graph and .dockerignore reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgtool.dockerfile import DockerfileError, StageScope, dockerignore_for, instructions as ins, parse, read_dockerignore


def _stage_instructions(text: str) -> tuple:
    return parse(text).stages[-1].instructions


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
        ("FROM a\nRUNN x\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM a\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
        ("FROM a\nCOPY --form=b x y\n", "Dockerfile:2: unknown flag: form (did you mean from?)"),
        ("FROM a\nCOPY --from x y\n", "Dockerfile:2: missing a value on flag: from"),
        ("FROM a\nCOPY --link=maybe x y\n", "Dockerfile:2: expecting boolean value for flag link, not: maybe"),
        ("FROM a\nCOPY --from=a --from=b x y\n", "Dockerfile:2: duplicate flag specified: from"),
        ("FROM a\nCOPY x\n", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM a AS 1x\n", 'Dockerfile:1: invalid name for build stage: "1x", name can\'t start with a number or contain symbols'),
        ("RUN x\n", "Dockerfile:1: no build stage in current context"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM b\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nHEALTHCHECK --interval=0.5ms CMD x\n", 'Dockerfile:2: Interval "interval" cannot be less than 1ms'),
        ("FROM a\nRUN --mount=type=nfs,target=/x y\n", "Dockerfile:2: unsupported mount type 'nfs'"),
        ("FROM a\nARG =x\n", "Dockerfile:2: ARG names can not be blank"),
        ("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument"),
    ],
)
def test_instruction_errors(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text)
    assert str(info.value) == message


def test_typed_instructions() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\n"
        'RUN --mount=type=cache,target=/root/.cache --network=none ["go", "build"]\n'
        "COPY --from=0 --chown=1:1 --chmod=755 --link --exclude=*.md <<EOF src/ /dst/\nhello\nEOF\n"
        "ADD --checksum=sha256:abc --unpack=false https://x/y.tgz /y\n"
        "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/\n"
        "EXPOSE 8080 80/udp\n"
        "ONBUILD COPY . /app\n"
    )
    dockerfile = parse(text)
    stage = dockerfile.stages[0]
    assert (stage.name, stage.from_.name_as_written, stage.from_.platform) == ("build", "Build", "$BUILDPLATFORM")
    run, copy, add, health, expose, onbuild = stage.instructions
    assert isinstance(run, ins.Run) and run.command == ("go", "build") and not run.shell_form
    assert (run.mounts[0].type, run.mounts[0].target, run.network) == ("cache", "/root/.cache", "none")
    assert isinstance(copy, ins.Copy)
    assert (copy.from_, copy.chown, copy.chmod, copy.link, copy.excludes) == ("0", "1:1", "755", True, ("*.md",))
    assert copy.sources == ("src/",) and copy.dest == "/dst/"
    assert copy.contents == (ins.SourceContent("EOF", "hello\n", True),)
    assert isinstance(add, ins.Add) and (add.checksum, add.unpack) == ("sha256:abc", False)
    assert isinstance(health, ins.Healthcheck)
    assert (health.test, health.interval, health.retries) == (("CMD-SHELL", "curl -f http://localhost/"), 5 * 10**9, 3)
    assert isinstance(expose, ins.Expose) and expose.ports == ("80/udp", "8080")
    assert stage.onbuild_triggers == ("COPY . /app",)
    assert isinstance(onbuild, ins.Onbuild) and onbuild.trigger == "COPY"


def test_zero_healthcheck_durations_mean_the_default() -> None:
    for zero in ("0", "0s", "0ms", "0h0m"):
        health = parse(f"FROM a\nHEALTHCHECK --interval={zero} --timeout={zero} CMD x\n").stages[0].instructions[0]
        assert isinstance(health, ins.Healthcheck) and (health.interval, health.timeout) == (0, 0)


def test_env_sees_values_from_before_the_instruction() -> None:
    scope = StageScope({}, {}, {})
    out = [scope.dispatch(i) for i in _stage_instructions('FROM a\nENV abc=hello\nENV abc=bye def="$abc x"\n')]
    assert out[1].pairs == (ins.KeyValue("abc", "bye"), ins.KeyValue("def", "hello x"))
    assert scope.env == {"abc": "bye", "def": "hello x"}


def test_arg_scoping_build_args_and_env_override() -> None:
    text = (
        "ARG VERSION=1.0\nARG UNUSED\nFROM alpine:$VERSION\n"
        "ARG VERSION\nARG LOCAL=l-$VERSION\nARG OVERRIDDEN=default\nENV LOCAL=from-env\n"
        "WORKDIR /$LOCAL/$OVERRIDDEN/$VERSION\n"
    )
    dockerfile = parse(text)
    globals_ = dockerfile.global_args({"OVERRIDDEN": "cli", "VERSION": "2.0"})
    assert globals_["VERSION"] == "2.0" and "UNUSED" not in globals_
    assert globals_["TARGETPLATFORM"] == "linux/amd64" and globals_["BUILDARCH"] == "amd64"
    stage = dockerfile.stages[0]
    scope = StageScope(globals_, {"OVERRIDDEN": "cli", "HTTP_PROXY": "http://p"}, {"PATH": "/bin"})
    expanded = [scope.dispatch(i) for i in stage.instructions]
    assert expanded[-1].value == "/from-env/cli/2.0"
    # as BuildKit's runCommandString: the value the step sees, so ENV's for LOCAL
    assert scope.declared_args() == {"VERSION": "2.0", "LOCAL": "from-env", "OVERRIDDEN": "cli"}
    # an undeclared proxy arg reaches RUN in both spellings, outside the key and the history
    assert scope.proxy_env() == {"HTTP_PROXY": "http://p", "http_proxy": "http://p"}
    assert "HTTP_PROXY" not in scope.run_env() and "HTTP_PROXY" not in scope.declared_args()


def test_stage_from_stage_inherits_declared_args() -> None:
    dockerfile = parse("FROM a AS one\nARG A=1\nENV E=env\nARG E=arg\nARG BARE\nFROM one\nWORKDIR /$A/$E\n")
    parent = StageScope({}, {}, {})
    for instruction in dockerfile.stages[0].instructions:
        parent.dispatch(instruction)
    child = StageScope({}, {}, parent.env, inherited=parent.vars())
    # the parent's ARG values stay visible, and its config Env is written over them (E)
    assert child.dispatch(dockerfile.stages[1].instructions[0]).value == "/1/env"
    assert child.declared_args() == {"A": "1", "E": "env", "BARE": ""}


def test_global_arg_not_visible_in_stage_without_declaration() -> None:
    dockerfile = parse("ARG V=1\nFROM a\nWORKDIR /x$V\n")
    scope = StageScope(dockerfile.global_args(), {}, {})
    assert scope.dispatch(dockerfile.stages[0].instructions[0]).value == "/x"


def test_source_date_epoch_as_global_arg_default() -> None:
    dockerfile = parse("ARG SOURCE_DATE_EPOCH=1700000000\nFROM a\n")
    assert dockerfile.global_args()["SOURCE_DATE_EPOCH"] == "1700000000"
    assert dockerfile.global_args({"SOURCE_DATE_EPOCH": "1"})["SOURCE_DATE_EPOCH"] == "1"


def test_reachable_stages_for_target() -> None:
    text = (
        "ARG BASE=base\nFROM alpine AS base\nFROM base AS deps\nFROM alpine AS unused\n"
        "FROM busybox AS tools\nFROM ${BASE} AS final\nCOPY --from=deps /a /a\n"
        "RUN --mount=type=bind,from=tools,target=/t true\n"
    )
    dockerfile = parse(text)
    globals_ = dockerfile.global_args()
    assert [s.name for s in dockerfile.stages_for(None, globals_)] == ["base", "deps", "tools", "final"]
    assert [s.name for s in dockerfile.stages_for("deps", globals_)] == ["base", "deps"]
    assert [s.index for s in dockerfile.stages_for(None, dockerfile.global_args({"BASE": "ubuntu"}))] == [0, 1, 3, 4]
    with pytest.raises(DockerfileError, match="target stage 'nope' could not be found"):
        dockerfile.stages_for("nope", globals_)


def test_copy_from_index_and_bad_references() -> None:
    dockerfile = parse("FROM a\nFROM b\nCOPY --from=0 /x /x\n")
    assert [s.index for s in dockerfile.stages_for(None, {})] == [0, 1]
    with pytest.raises(DockerfileError, match="^Dockerfile:2: invalid stage index 5"):
        parse("FROM a\nCOPY --from=5 /x /x\n").stages_for(None, {})
    with pytest.raises(DockerfileError, match="circular dependency detected on stage: x"):
        parse("FROM a AS x\nCOPY --from=x /a /b\n").stages_for(None, {})
    later = 'cannot copy from stage "late", it needs to be defined before current stage "early"'
    with pytest.raises(DockerfileError, match=f"^Dockerfile:2: {later}$"):
        parse("FROM a AS early\nCOPY --from=late /a /b\nFROM b AS late\n").stages_for("early", {})
    with pytest.raises(DockerfileError, match='^Dockerfile:2: cannot mount from stage "1" to "/m", stage needs'):
        parse("FROM a AS first\nRUN --mount=from=1,target=/m true\nFROM b\n").stages_for("first", {})
    assert [s.index for s in parse("FROM a\nCOPY --from=1 /x /x\nFROM b AS y\n").stages_for("y", {})] == [1]


def test_the_later_of_two_stages_with_one_name_wins() -> None:
    dockerfile = parse("FROM a AS x\nFROM b AS X\nFROM x AS y\nFROM c\nCOPY --from=x /a /a\n")
    assert dockerfile.target("x").index == 1
    assert [s.index for s in dockerfile.stages_for(None, {})] == [1, 3]
    assert [s.index for s in dockerfile.stages_for("y", {})] == [1, 2]


def test_copy_from_takes_no_variables() -> None:
    for spelling in ("$SRC", "${SRC}", "a${X:-b}"):
        with pytest.raises(DockerfileError, match="^Dockerfile:3: variable expansion is not supported for --from"):
            parse(f"ARG SRC=a\nFROM a\nCOPY --from={spelling} /x /x\n")
    assert parse("FROM a\nCOPY --from=busybox:1.36 /x /x\n").stages[0].instructions[0].from_ == "busybox:1.36"
    with pytest.raises(DockerfileError, match="^Dockerfile:2: 'from' doesn't support variable expansion"):
        parse("FROM a\nRUN --mount=from=${SRC},target=/n true\n")
    assert parse("FROM a\nRUN --mount=from=x$,target=/n true\n").stages[0].instructions[0].mounts[0].from_ == "x$"


def test_blank_base_name() -> None:
    dockerfile = parse("ARG IMG\nFROM $IMG\n")
    with pytest.raises(DockerfileError, match=r"^Dockerfile:2: base name \(\$IMG\) should not be blank"):
        dockerfile.stages_for(None, dockerfile.global_args())


def test_read_dockerignore_and_lookup(tmp_path: Path) -> None:
    text = "\ufeff# comment\n  /node_modules/  \n!keep/../important.txt\n\n *.log\n"
    assert read_dockerignore(text) == ["node_modules", "!important.txt", "*.log"]
    (tmp_path / ".dockerignore").write_text("a")
    dockerfile = tmp_path / "app.Dockerfile"
    assert dockerignore_for(tmp_path, dockerfile) == tmp_path / ".dockerignore"
    (tmp_path / "app.Dockerfile.dockerignore").write_text("b")
    assert dockerignore_for(tmp_path, dockerfile) == tmp_path / "app.Dockerfile.dockerignore"
