"""The part of Go's text/template that `docker ... --format` users write, over JSON-shaped values.

Field paths (`{{.Config.Env}}`), pipelines (`{{.Config | json}}`), docker's functions (json, join,
split, lower, upper, title, truncate, println, pad) and Go's (index, len, print, printf), `range`,
`if`/`else`, `with`. Values print as Go's `%v` does (`[a b]`, `map[k:v]`, `<nil>`), and a null
field as `<no value>` (docker runs inspect templates over the decoded JSON, where null is a nil
interface), so scripts written against docker's output read the same text.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from imgtool.errors import ImgtoolError

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(ImgtoolError):
    """A --format template that does not parse or names a missing field."""


@dataclass
class _Node:
    kind: str            # text, action, range, if, with
    text: str = ""
    body: list["_Node"] | None = None
    orelse: list["_Node"] | None = None


def _tokens(template: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        if out and out[-1][0] == "trim_next":
            out.pop()
            text = text.lstrip()
        out.append(("text", text))
        out.append(("action", m.group(2)))
        if m.group(3):
            out.append(("trim_next", ""))
        pos = m.end()
    text = template[pos:]
    if out and out[-1][0] == "trim_next":
        out.pop()
        text = text.lstrip()
    out.append(("text", text))
    return out


def _parse(tokens: list[tuple[str, str]], i: int, template: str) -> tuple[list[_Node], int, str]:
    nodes: list[_Node] = []
    while i < len(tokens):
        kind, text = tokens[i]
        i += 1
        if kind == "text":
            if text:
                nodes.append(_Node("text", text))
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in ("end", "else"):
            return nodes, i, word
        if word in ("range", "if", "with"):
            body, i, stop = _parse(tokens, i, template)
            orelse = None
            if stop == "else":
                orelse, i, stop = _parse(tokens, i, template)
            if stop != "end":
                raise TemplateError(f"template {template!r}: {word} without {{{{end}}}}")
            nodes.append(_Node(word, text[len(word):].strip(), body, orelse))
        elif text.startswith("/*"):
            continue
        else:
            nodes.append(_Node("action", text))
    return nodes, i, ""


def _go(value: Any, nil: str = "<nil>") -> str:
    if value is None:
        return nil
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        try:
            value = value[int(key)] if isinstance(value, list) else (value or {}).get(key)
        except (IndexError, ValueError) as exc:
            raise TemplateError(f"index {key!r}: {exc}") from None
    return value


_FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": lambda items, sep: sep.join(_go(i) for i in (items or [])),
    "split": lambda s, sep: s.split(sep),
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "title": lambda s: str(s).title(),
    "truncate": lambda s, n: str(s)[: int(n)],
    "pad": lambda s, left, right: " " * int(left) + str(s) + " " * int(right),
    "println": lambda *a: " ".join(_go(x) for x in a) + "\n",
    "print": lambda *a: "".join(_go(x) for x in a),
    "printf": lambda fmt, *a: re.sub(r"%[-+ #0-9.]*[vsdq]", "{}", fmt).format(*(_go(x) for x in a)),
    "index": _index,
    "len": lambda v: len(v or ()),
}


class Template:
    """A parsed template; `render(data)` gives the text."""

    def __init__(self, template: str):
        self.source = template
        nodes, i, stop = _parse(_tokens(template), 0, template)
        if stop:
            raise TemplateError(f"template {template!r}: unexpected {{{{{stop}}}}}")
        self.nodes = nodes

    def render(self, data: Any) -> str:
        """The template applied to `data` (dicts and lists, as in docker's JSON)."""
        return "".join(self._run(self.nodes, data))

    def _run(self, nodes: list[_Node], dot: Any) -> list[str]:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                value = self._pipeline(node.text, dot)
                out.append(value if isinstance(value, str) else _go(value, "<no value>"))
            else:
                value = self._pipeline(node.text, dot)
                if node.kind == "range" and value:
                    items = value.values() if isinstance(value, dict) else value
                    for item in items:
                        out += self._run(node.body or [], item)
                elif node.kind != "range" and value:
                    out += self._run(node.body or [], value if node.kind == "with" else dot)
                elif node.orelse is not None:
                    out += self._run(node.orelse, dot)
        return out

    def _pipeline(self, text: str, dot: Any) -> Any:
        value: Any = None
        for i, stage in enumerate(s.strip() for s in text.split("|")):
            try:
                words = shlex.split(stage, posix=True)
            except ValueError as exc:
                raise TemplateError(f"template {self.source!r}: {exc}") from None
            if not words:
                raise TemplateError(f"template {self.source!r}: empty command")
            args = [self._arg(w, dot) for w in words[1:]] + ([value] if i else [])
            head = words[0]
            if head in _FUNCS:
                try:
                    value = _FUNCS[head](*args)
                except TypeError:
                    raise TemplateError(f"template {self.source!r}: wrong arguments for {head}") from None
            elif head.startswith(".") or head.startswith("$"):
                value = self._arg(head, dot)
            else:
                raise TemplateError(f"template {self.source!r}: function {head!r} not defined")
        return value

    def _arg(self, word: str, dot: Any) -> Any:
        if word in (".", "$"):
            return dot
        if word.startswith("."):
            value = dot
            for part in word[1:].split("."):
                # Go on docker's decoded JSON (map[string]interface{}): a missing key is nil, which
                # prints `<no value>` and is `null` to json; only a field of nil or of a scalar fails
                if value is None:
                    raise TemplateError(f"template {self.source!r}: nil pointer evaluating interface {{}}.{part}")
                if not isinstance(value, dict):
                    raise TemplateError(f"template {self.source!r}: can't evaluate field {part}")
                value = value.get(part)
            return value
        if re.fullmatch(r"-?[0-9]+", word):
            return int(word)
        return word
