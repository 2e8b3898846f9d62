"""Each build check fires on a Dockerfile that breaks its rule and stays quiet on one that does not."""

from __future__ import annotations

import pytest

from imgtool.dockerfile import DockerfileError, parse, run_checks

CASES = {
    "SecretsUsedInArgOrEnv": ("FROM alpine\nARG AWS_SECRET_ACCESS_KEY\nENV API_TOKEN=x\n", "FROM alpine\nARG PUBLIC_KEY\nENV TOKEN_FILE=/run/t\n"),
    "JSONArgsRecommended": ("FROM alpine\nCMD my-program start\n", 'FROM alpine\nCMD ["my-program", "start"]\n'),
    "UndefinedVar": ("FROM alpine\nCOPY $foo .\n", "FROM alpine\nARG foo\nCOPY $foo .\nRUN echo $bar\n"),
    "UndefinedArgInFrom": ("FROM node:22${VARIANT} AS js\n", 'ARG VARIANT="-alpine3.20"\nFROM node:22${VARIANT} AS js\n'),
    "DuplicateStageName": ("FROM a AS builder\nFROM b AS builder\n", "FROM a AS deb\nFROM b AS go\n"),
    "WorkdirRelativePath": ("FROM nginx\nWORKDIR usr/share\n", "FROM nginx\nWORKDIR /usr\nWORKDIR share\n"),
    "MaintainerDeprecated": ("FROM a\nMAINTAINER me@example.com\n", "FROM a\nLABEL org.opencontainers.image.authors=me\n"),
    "FromAsCasing": ("FROM debian:latest as builder\n", "from debian:latest as builder\n"),
    "StageNameCasing": ("FROM alpine AS BuilderBase\n", "FROM alpine AS builder-base\n"),
    "ConsistentInstructionCasing": ("From alpine\nRUN echo hi\n", "from alpine\nrun echo hi\n"),
    "NoEmptyContinuation": ("FROM alpine\nEXPOSE \\\n\n80\n", "FROM alpine\nEXPOSE \\\n# Port\n80\n"),
    "LegacyKeyValueFormat": ("FROM alpine\nENV foo bar\n", "FROM alpine\nENV foo=bar\n"),
    "ExposeProtoCasing": ("FROM alpine\nEXPOSE 80/TcP\n", "FROM alpine\nEXPOSE 80/tcp\n"),
    "ExposeInvalidFormat": ("FROM alpine\nEXPOSE 127.0.0.1:80:80\n", "FROM alpine\nEXPOSE 80\n"),
    "ReservedStageName": ("FROM alpine AS scratch\n", "FROM alpine AS builder\n"),
    "MultipleInstructionsDisallowed": ('FROM a\nCMD ["a"]\nCMD ["b"]\n', 'FROM a\nCMD ["a"]\nFROM b\nCMD ["b"]\n'),
    "RedundantTargetPlatform": ("FROM --platform=$TARGETPLATFORM alpine\n", "FROM --platform=$BUILDPLATFORM alpine\n"),
    "FromPlatformFlagConstDisallowed": (
        "FROM --platform=linux/amd64 alpine AS base\n",
        "FROM --platform=linux/amd64 alpine AS build_amd64\n",
    ),
    "InvalidDefaultArgInFrom": ("ARG TAG\nFROM busybox:${TAG}\n", "ARG TAG=latest\nFROM busybox:${TAG}\n"),
}


def _rules(text: str) -> list[str]:
    return [w.rule for w in run_checks(parse(text))]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_bad_file(rule: str) -> None:
    assert rule in _rules(CASES[rule][0])


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_quiet_on_good_file(rule: str) -> None:
    assert rule not in _rules(CASES[rule][1])


def test_messages_and_locations_match_buildkit() -> None:
    text = "FROM alpine AS base\nARG AWS_SECRET_ACCESS_KEY\nENV PATH=$PAHT:/app/bin\nWORKDIR app\n"
    got = [(w.rule, w.message, w.line) for w in run_checks(parse(text))]
    assert got == [
        ("SecretsUsedInArgOrEnv", 'Do not use ARG or ENV instructions for sensitive data (ARG "AWS_SECRET_ACCESS_KEY")', 2),
        ("UndefinedVar", "Usage of undefined variable '$PAHT' (did you mean $PATH?)", 3),
        ("WorkdirRelativePath", 'Relative workdir "app" can have unexpected results if the base image changes', 4),
    ]
    warning = run_checks(parse(text))[0]
    assert warning.url == "https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/"
    assert str(warning).startswith("Dockerfile:2: SecretsUsedInArgOrEnv: ")


def test_check_directive_skips_rules_and_sets_error() -> None:
    text = "# check=skip=JSONArgsRecommended,MaintainerDeprecated;error=true\nFROM a\nMAINTAINER me\nCMD run\nENV a b\n"
    parsed = parse(text)
    assert [w.rule for w in run_checks(parsed)] == ["LegacyKeyValueFormat"]
    assert parsed.check_config().error is True
    assert run_checks(parse("# check=skip=all\nFROM a\nMAINTAINER me\n")) == []


def test_bad_check_directive_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="invalid check directive"):
        parse("# check=bogus\nFROM a\n").check_config()


def test_shell_instruction_silences_json_args() -> None:
    assert "JSONArgsRecommended" not in _rules('FROM a\nSHELL ["/bin/bash", "-c"]\nCMD run\n')


def test_base_env_from_builder_defines_variables() -> None:
    text = "FROM python\nARG VERSION=$PYTHON_VERSION\n"
    assert "UndefinedVar" in _rules(text)
    warnings = run_checks(parse(text), base_env=lambda image: {"PYTHON_VERSION": "3.12"})
    assert [w.rule for w in warnings] == []


def test_stage_inherits_env_and_workdir_from_parent_stage() -> None:
    text = "FROM a AS one\nENV X=1\nWORKDIR /src\nFROM one\nWORKDIR sub\nRUN echo\nCOPY $X .\n"
    assert _rules(text) == []
