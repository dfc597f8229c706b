"""Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, defaults.

Only Version 2012-10-17 documents have variables; in 2008-10-17 `${...}` is literal
text (the caller decides). A template is parsed once; resolving it against a request's
context is a join of literal pieces and looked-up values. An unresolvable variable
(no value, no default) makes the whole template unresolvable (`None`): the element
that uses it does not match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skyhold.policy.wildcard import literal

# ${name} or ${name, 'default'}; the name is a context key (may contain / : . - _).
_VAR = re.compile(r"\$\{\s*([^},']+?)\s*(?:,\s*'([^']*)'\s*)?\}")
# ${*}, ${?}, ${$}: the literal character, wherever variables are allowed (IAM User
# Guide, "Policy variables", special characters).
_SPECIAL = frozenset("*?$")


@dataclass(frozen=True, slots=True)
class Template:
    # Alternating pieces: str literals and (lower-cased key, default|None) refs.
    pieces: tuple[str | tuple[str, str | None], ...]
    keys: tuple[str, ...]  # context keys referenced (as written)
    # A wildcard pattern (Resource, StringLike, ArnLike): substituted values and the
    # special characters are encoded so that the matchers read them as literals.
    pattern: bool
    # (literal before, lower-cased key, default, literal after) for one-variable templates
    single: tuple[str, str, str | None, str] | None = None

    def resolve(self, context: Mapping[str, Any]) -> str | None:
        """The text with variables substituted."""
        for_pattern = self.pattern
        if self.single is not None:
            # The common shape, "prefix${key}suffix": no list to build.
            before, key, default, after = self.single
            value = context.get(key)
            if type(value) is str:
                return before + (literal(value) if for_pattern else value) + after
        out: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            key, default = piece
            value = context.get(key)
            if isinstance(value, list | tuple):
                # A multivalued key has no single value to substitute.
                value = value[0] if len(value) == 1 else None
            if value is None:
                if default is None:
                    return None
                value = default
            text = _text(value)
            out.append(literal(text) if for_pattern else text)
        return "".join(out)


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def parse(text: str, *, pattern: bool) -> Template | str:
    """A Template when `text` uses variables, else the text itself with `${*}`, `${?}`,
    `${$}` made literal: the characters themselves for an exact comparison, and for a
    `pattern` (wildcard matchers) the encoding that keeps them from being wildcards."""
    if "${" not in text:
        return text
    pieces: list[str | tuple[str, str | None]] = []
    keys: list[str] = []
    pos = 0
    for m in _VAR.finditer(text):
        if m.start() > pos:
            pieces.append(text[pos : m.start()])
        name, default = m.group(1), m.group(2)
        if name in _SPECIAL and default is None:
            pieces.append(literal(name) if pattern else name)
        else:
            pieces.append((name.lower(), default))
            keys.append(name)
        pos = m.end()
    if pos < len(text):
        pieces.append(text[pos:])
    if not keys:
        return "".join(p for p in pieces if isinstance(p, str))
    single = None
    refs = [p for p in pieces if not isinstance(p, str)]
    if len(refs) == 1:
        i = pieces.index(refs[0])
        before = "".join(p for p in pieces[:i] if isinstance(p, str))
        after = "".join(p for p in pieces[i + 1 :] if isinstance(p, str))
        single = (before, refs[0][0], refs[0][1], after)
    return Template(tuple(pieces), tuple(keys), pattern, single)


def referenced_keys(text: str) -> list[str]:
    """Context keys a string references as variables (original spelling)."""
    t = parse(text, pattern=True)
    return list(t.keys) if isinstance(t, Template) else []
