"""Shell word expansion as BuildKit's lexer does it (frontend/dockerfile/shell).

A Dockerfile word is not a shell word: only quotes, the escape character and `$` forms are
understood, and the result is what BuildKit's `ProcessWord`/`ProcessWords` return. The builder
expands instruction words with `process_word` (one string) or `process_words` (split into
fields after expansion, for EXPOSE and heredoc detection); `process_with_matches` also reports
which variables were looked up, which the UndefinedVar check needs.

Supported: `'...'`, `"..."` (escape only before `"` `$` and the escape character), the escape
character outside quotes, `$name`, `${name}`, `${name:-w}` `${name-w}` `${name:+w}` `${name+w}`
`${name:?m}` `${name?m}`, `${name#p}` `${name##p}` `${name%p}` `${name%%p}`, `${name/p/r}`
`${name//p/r}`. `$1`.. and `$@ $* $# $? $- $$ $! $0` parse but are never set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from imgtool.frozen import frozen

from . import globpattern
from .errors import ExpansionError
from .goquote import is_space, quote

MAX_NESTING = 64  # ${a:-${b:-...}} deeper than this is refused instead of exhausting the stack
_SPECIAL_PARAMS = frozenset("@*#?-$!0")


@dataclass
class Expansion:
    """The outcome of expanding one word: the string, its fields, and the names looked up."""

    word: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


@frozen
class Lex:
    """Lexer settings. The defaults are the ones the builder uses at dispatch.

    raw_quotes keeps quote characters in the result; raw_escapes keeps escape characters;
    skip_process_quotes treats quotes as ordinary characters (heredoc bodies); skip_unset_env
    leaves `$name` of unset variables as written; case_insensitive_keys compares variable names
    like Windows does.
    """

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_process_quotes: bool = False
    skip_unset_env: bool = False
    case_insensitive_keys: bool = False

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand `word` into one string; spaces inside are kept."""
        return self.process_with_matches(word, env).word

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand `word` and split it into fields; quoted parts do not split."""
        return self.process_with_matches(word, env).words

    def process_with_matches(self, word: str, env: Mapping[str, str]) -> Expansion:
        """Expand `word` and also report which variables were found and which were not."""
        state = _Word(self, word, env)
        try:
            result, words = state.until(None, self.raw_escapes)
        except ExpansionError as exc:
            raise ExpansionError(f"failed to process {quote(word)}: {exc.message}") from None
        return Expansion(result, words, state.matched, state.unmatched)


class _Fields:
    """Field splitting that follows the lexer: expanded text splits, quoted text does not."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def done(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Word:
    """One expansion in progress: the text, a cursor, the environment, the lookups made."""

    def __init__(self, lex: Lex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.depth = 0
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Consume up to `stop` (or the end); return the expanded text and its fields."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpansionError("syntax error: substitutions nested too deeply")
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved
            self.depth -= 1

    def _until(self, stop: str | None) -> tuple[str, list[str]]:
        lex = self.lex
        result: list[str] = []
        fields = _Fields()
        while (ch := self.peek()) is not None:
            if stop is not None and ch == stop:
                self.next()
                return "".join(result), fields.done()
            if ch == "$":
                text = self.dollar()
                result.append(text)
                fields.add_string(text)
            elif ch in "'\"" and not lex.skip_process_quotes:
                text = self.single_quoted() if ch == "'" else self.double_quoted()
                result.append(text)
                fields.add_raw(text)
            elif ch == "<":
                text = self.possible_heredoc()
                result.append(text)
                fields.add_raw(text)
            else:
                self.next()
                if ch == lex.escape:
                    if self.raw_escapes:
                        fields.add_raw(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch is None:
                        break
                    fields.add_raw(ch)
                else:
                    fields.add_char(ch)
                result.append(ch)
        if stop is not None:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), fields.done()

    def possible_heredoc(self) -> str:
        # `<<  EOF` stays one field so the heredoc detector sees the delimiter after the spaces
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        spaces = ""
        while (ch := self.peek()) is not None and ch in " \t":
            spaces += ch
            self.next()
        return "<<" + spaces

    def single_quoted(self) -> str:
        opening = self.next()
        out = [opening] if self.lex.raw_quotes else []
        while True:
            ch = self.next()
            if ch is None:
                raise ExpansionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        escape = self.lex.escape
        opening = self.next()
        out = [opening] if self.lex.raw_quotes else []
        while True:
            ch = self.peek()
            if ch is None:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            if ch == escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following is None:
                    continue
                if following in ('"', "$", escape):
                    ch = self.next()
            out.append(ch)

    def lookup(self, name: str) -> tuple[str, bool]:
        if self.lex.case_insensitive_keys:
            for key, value in self.env.items():
                if key.upper() == name.upper():
                    self.matched.add(name)
                    return value, True
        elif name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def name(self) -> str:
        ch = self.peek()
        if ch is None:
            return ""
        if ch.isdecimal():
            start = self.pos
            while (ch := self.peek()) is not None and ch.isdecimal():
                self.next()
            return self.text[start : self.pos]
        if ch in _SPECIAL_PARAMS:
            self.next()
            return ch
        start = self.pos
        while (ch := self.peek()) is not None and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.next()
        return self.text[start : self.pos]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.next()
        ch = self.peek()
        if ch is None:
            raise ExpansionError("syntax error: missing '}'")
        if ch in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self.replacement(name)
        modifier = ch or ""
        null_is_unset = ch == ":"
        if null_is_unset:
            ch = self.next()
            modifier += ch or ""
        if ch is None or ch not in "+-?#%" or (null_is_unset and ch in "#%"):
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        word = self.argument("}", raw_escapes=ch in "#%", missing="syntax error: missing '}'")
        value, found = self.lookup(name)
        if not found and self.lex.skip_unset_env:
            return "${" + name + modifier + word + "}"
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            if empty:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        longest = word.startswith(ch)
        if longest:
            word = word[1:]
        trim = globpattern.trim_suffix if ch == "%" else globpattern.trim_prefix
        return trim(word, value, longest)

    def argument(self, stop: str, raw_escapes: bool, missing: str) -> str:
        try:
            text, _ = self.until(stop, raw_escapes)
        except ExpansionError:
            if self.peek() is None:
                raise ExpansionError(missing) from None
            raise
        return text

    def replacement(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self.argument("/", raw_escapes=True, missing="syntax error: missing '/' in ${}")
        replacement = self.argument("}", raw_escapes=True, missing="syntax error: missing '}'")
        value, found = self.lookup(name)
        if not found and self.lex.skip_unset_env:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        return globpattern.replace(pattern, value, replacement, replace_all)
