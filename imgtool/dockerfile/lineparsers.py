"""From one assembled instruction line to a `Node`: split the keyword and `--flags` off, then
split the arguments the way that instruction's BuildKit line parser does.

| instructions                 | arguments                                                        |
| ---------------------------- | ---------------------------------------------------------------- |
| RUN CMD ENTRYPOINT SHELL     | JSON array of strings (exec form) or the raw rest (shell form)   |
| ADD COPY VOLUME              | JSON array of strings or a whitespace-separated list             |
| ENV LABEL                    | `k=v ...` (quote-aware) or legacy `k v`; triples key, value, sep |
| ARG                          | quote-aware words, raw `name` or `name=value`                    |
| FROM EXPOSE                  | whitespace-separated list                                        |
| MAINTAINER USER WORKDIR STOPSIGNAL | the raw rest as one argument                               |
| HEALTHCHECK                  | the type word, then like CMD                                     |
| ONBUILD                      | a nested node for the instruction that follows                   |

Anything else parses with no arguments; `instructions` rejects it as an unknown instruction.
Arguments stay raw: quote removal and `$VAR` expansion happen at dispatch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from .errors import DockerfileError
from .goquote import is_space, quote, strip_space
from .nodes import Node

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"
MAX_ONBUILD_DEPTH = 8  # ONBUILD ONBUILD ... is rejected later anyway; bound the recursion here

Args = tuple[tuple[str, ...], bool]  # (argument values, is JSON form)


def split_command(line: str) -> tuple[str, tuple[str, ...], str]:
    """Split an instruction line into keyword (as written), flags and the trimmed rest."""
    parts = _WHITESPACE.split(strip_space(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], (), ""
    rest, flags = extract_flags(parts[1])
    return parts[0], tuple(flags), strip_space(rest)


def extract_flags(line: str) -> tuple[str, list[str]]:
    """Peel `--flag[=value]` words off the front of `line`; a bare `--` ends the flags.

    Quotes inside a flag are removed and `\\` escapes the next character, as in BuildKit.
    """
    flags: list[str] = []
    word: list[str] = []
    in_word = False
    quote_char = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if not in_word and not quote_char:
            if pos == n:
                break
            if is_space(ch):
                pos += 1
                continue
            if not line.startswith("--", pos):
                return line[pos:], flags
            in_word = True
        if pos == n:
            text = "".join(word)
            if text != "--" and (blank_ok or text):
                flags.append(text)
            break
        if quote_char:
            if ch == quote_char:
                quote_char = ""
            else:
                if ch == "\\":
                    if pos + 1 == n:
                        quote_char = ""
                        pos += 1
                        continue
                    pos += 1
                    ch = line[pos]
                word.append(ch)
            pos += 1
            continue
        if is_space(ch):
            text = "".join(word)
            if text == "--":
                return line[pos:], flags
            if blank_ok or text:
                flags.append(text)
            word, in_word, blank_ok = [], False, False
            pos += 1
            continue
        if ch in "'\"":
            quote_char, blank_ok = ch, True
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
        pos += 1
    return "", flags


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes in the words (ENV/LABEL/ARG)."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote_char = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos < n:
        ch = rest[pos]
        if not in_word:
            if is_space(ch):
                pos += 1
                continue
            in_word = True
        if quote_char:
            if ch == quote_char:
                quote_char = ""
            elif ch == escape and quote_char != "'":
                if pos + 1 == n:
                    quote_char = ""
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        if is_space(ch):
            if blank_ok or word:
                words.append("".join(word))
            word, in_word, blank_ok = [], False, False
            pos += 1
            continue
        if ch in "'\"":
            quote_char, blank_ok = ch, True
        if ch == escape:
            if pos + 1 == n:
                pos += 1
                continue
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _split_whitespace(rest: str) -> tuple[str, ...]:
    return tuple(_WHITESPACE.split(rest)) if rest else ()


def _reject_nan(name: str) -> object:
    raise ValueError(name)  # Go's decoder has no NaN/Infinity: not JSON, so shell form


def _json_array(rest: str) -> tuple[str, ...] | None:
    """The JSON array at the start of `rest`, or None if it is not JSON (trailing text is ignored, as in Go)."""
    rest = strip_space(rest, right=False)
    if not rest.startswith("["):
        return None
    try:
        value, _ = json.JSONDecoder(parse_constant=_reject_nan).raw_decode(rest)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise DockerfileError(NOT_STRING_ARRAY)
    return tuple(value)


def parse_maybe_json(rest: str, escape: str) -> Args:
    """Exec form if `rest` is a JSON array of strings, else the shell form: the raw rest."""
    if not rest:
        return (), False
    values = _json_array(rest)
    if values is not None:
        return values, True
    return (rest,), False


def parse_maybe_json_to_list(rest: str, escape: str) -> Args:
    """A JSON array of strings, else a whitespace-separated list (ADD, COPY, VOLUME)."""
    values = _json_array(rest)
    if values is not None:
        return values, True
    return _split_whitespace(rest), False


def parse_whitespace_list(rest: str, escape: str) -> Args:
    """FROM and EXPOSE: plain whitespace-separated words."""
    return _split_whitespace(rest), False


def parse_string(rest: str, escape: str) -> Args:
    """USER, WORKDIR, STOPSIGNAL, MAINTAINER: the rest of the line as one raw argument."""
    return ((rest,) if rest else ()), False


def parse_name_or_name_value(rest: str, escape: str) -> Args:
    """ARG: each quote-aware word, `name` or `name=value`, kept raw."""
    return tuple(parse_words(rest, escape)), False


def _name_values(keyword: str) -> Callable[[str, str], Args]:
    def parse(rest: str, escape: str) -> Args:
        words = parse_words(rest, escape)
        if not words:
            return (), False
        if "=" not in words[0]:
            parts = _WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise DockerfileError(f"{keyword} must have two arguments")
            return (parts[0], parts[1], ""), False
        out: list[str] = []
        for word in words:
            if "=" not in word:
                raise DockerfileError(f"Syntax error - can't find = in {quote(word)}. Must be of the form: name=value")
            key, value = word.split("=", 1)
            out += [key, value, "="]
        return tuple(out), False

    parse.__doc__ = f"{keyword}: `k=v ...` or legacy `k v`, as (key, value, separator) triples."
    return parse


def parse_healthcheck(rest: str, escape: str) -> Args:
    """HEALTHCHECK: the type word (CMD, NONE, ...) followed by a maybe-JSON command."""
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    if sep == 0:
        return (), False
    nxt = sep
    while nxt < len(rest) and is_space(rest[nxt]):
        nxt += 1
    command, is_json = parse_maybe_json(rest[nxt:], escape)
    return (rest[:sep], *command), is_json


LINE_PARSERS: dict[str, Callable[[str, str], Args]] = {
    "add": parse_maybe_json_to_list,
    "arg": parse_name_or_name_value,
    "cmd": parse_maybe_json,
    "copy": parse_maybe_json_to_list,
    "entrypoint": parse_maybe_json,
    "env": _name_values("ENV"),
    "expose": parse_whitespace_list,
    "from": parse_whitespace_list,
    "healthcheck": parse_healthcheck,
    "label": _name_values("LABEL"),
    "maintainer": parse_string,
    "run": parse_maybe_json,
    "shell": parse_maybe_json,
    "stopsignal": parse_string,
    "user": parse_string,
    "volume": parse_maybe_json_to_list,
    "workdir": parse_string,
}


def node_from_line(line: str, escape: str, depth: int = 0) -> Node:
    """Build the node for one assembled instruction line (no heredoc bodies, no line numbers)."""
    keyword, flags, rest = split_command(line)
    lowered = keyword.lower()
    if lowered == "onbuild":
        sub = None
        if rest:
            if depth >= MAX_ONBUILD_DEPTH:
                raise DockerfileError("ONBUILD nested too deeply")
            sub = node_from_line(rest, escape, depth + 1)
        return Node(keyword, flags=flags, sub=sub, original=line)
    parser = LINE_PARSERS.get(lowered)
    if parser is None:
        return Node(keyword, args=("",), flags=flags, original=line)
    args, is_json = parser(rest, escape)
    return Node(keyword, args=args, flags=flags, is_json=is_json, original=line)
