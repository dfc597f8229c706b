"""Wildcard patterns (`*`, `?`) compiled once into the cheapest matcher that works.

Three flavours, because IAM uses three:
- glob: `*`/`?` over the whole string (Action, StringLike); case folding is the caller's choice.
- ARN: per-segment matching (Resource, ArnLike). AWS: wildcards work within each of
  the six colon-separated segments; a `*` that ends a segment "can expand to match
  beyond the colon boundaries", a `*` inside a segment cannot. The last segment (the
  resource id) may itself contain colons, so everything is free there.
Each compiles to a predicate `str -> bool`: equality for literals, `startswith` for a
single trailing `*`, else a `_StarMatcher`. Not a regex: `.*a.*a.*a.*b` backtracks
polynomially (three stars against 1,000 characters took 26 s), and both the patterns
(policies, EC2 filters) and the values (resource names, tags) are callers' input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

Matcher = Callable[[str], bool]


def _always(_: str) -> bool:
    return True


# Policy variables ${*} and ${?} (and substituted variable values) stand for a literal
# `*`/`?`; templates encode them with these private-use characters so that the
# compilers below never read them as wildcards.
LITERAL_STAR = "\ue000"
LITERAL_QMARK = "\ue001"
_LITERALS = {LITERAL_STAR: "*", LITERAL_QMARK: "?"}


def literal(value: str) -> str:
    """Make a value safe to splice into a pattern: its `*`/`?` stay literal."""
    if "*" in value or "?" in value:
        return value.replace("*", LITERAL_STAR).replace("?", LITERAL_QMARK)
    return value


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def unliteral(pattern: str) -> str:
    return pattern.replace(LITERAL_STAR, "*").replace(LITERAL_QMARK, "?")


# A pattern is read as tokens: a literal character, ANY (`?`), ANY_BUT_COLON (`?` inside
# an ARN's colon-bounded segment), STAR (`*`) or STAR_BUT_COLON (an ARN's inner `*`).
ANY, ANY_BUT_COLON, STAR, STAR_BUT_COLON = "\0?", "\0?:", "\0*", "\0*:"
_STARS = (STAR, STAR_BUT_COLON)


class _Piece:
    """A run of tokens between stars: a fixed number of characters. Literal text is found
    with str methods; one holding `?` with a regex that has no quantifier (linear)."""

    __slots__ = ("text", "size", "_rx")

    def __init__(self, tokens: list[str]) -> None:
        self.size = len(tokens)
        self.text = "".join(tokens)
        self._rx: re.Pattern[str] | None = None
        if any(t in (ANY, ANY_BUT_COLON) for t in tokens):
            self._rx = re.compile("".join("." if t == ANY else "[^:]" if t == ANY_BUT_COLON else re.escape(t)
                                          for t in tokens), re.DOTALL)

    def at(self, s: str, i: int) -> bool:
        if self._rx is None:
            return s.startswith(self.text, i)
        return self._rx.match(s, i, i + self.size) is not None

    def find(self, s: str, lo: int, hi: int) -> int:
        if self._rx is None:
            return s.find(self.text, lo, hi)
        m = self._rx.search(s, lo, hi)
        return -1 if m is None else m.start()


class _StarMatcher:
    """Whole-string match of head STAR piece STAR ... STAR tail in O(len(s) * len(pattern)):
    the head must start the string, the tail end it, and each middle piece is taken at
    its leftmost place after the previous one. Leftmost is right while the star after a
    middle piece may cross colons (it then leaves the most string to what follows); see
    `make` for the patterns where it is not."""

    __slots__ = ("head", "middle", "tail", "tail_bounded")

    def __init__(self, pieces: list[_Piece], bounded: list[bool]) -> None:
        self.head, self.tail = pieces[0], pieces[-1]
        self.middle = [(bounded[i], pieces[i + 1]) for i in range(len(pieces) - 2)]
        self.tail_bounded = bounded[-1]

    @staticmethod
    def make(tokens: list[str]) -> Matcher:
        runs: list[list[str]] = [[]]
        bounded: list[bool] = []  # per star run: may it not cross a colon?
        for t in tokens:
            if t in _STARS:
                if runs[-1] or not bounded:  # a new star run (consecutive stars are one)
                    runs.append([])
                    bounded.append(t == STAR_BUT_COLON)
                else:
                    bounded[-1] = bounded[-1] and t == STAR_BUT_COLON
            else:
                runs[-1].append(t)
        pieces = [_Piece(r) for r in runs]
        if not bounded:  # `?` only: one piece, the whole string
            whole = pieces[0]
            return lambda s: len(s) == whole.size and whole.at(s, 0)
        if any(bounded[1:]):
            # A star that may not cross a colon after a middle piece: the piece's leftmost
            # place may leave that star a colon to cross where a later place would not.
            return _StateSetMatcher(tokens)
        return _StarMatcher(pieces, bounded)

    def __call__(self, s: str) -> bool:
        head, tail = self.head, self.tail
        end = len(s) - tail.size
        if end < head.size or not head.at(s, 0) or not tail.at(s, end):
            return False
        pos = head.size
        for bounded, piece in self.middle:
            i = piece.find(s, pos, end)
            if i < 0 or (bounded and s.find(":", pos, i) >= 0):
                return False
            pos = i + piece.size
        return not (self.tail_bounded and s.find(":", pos, end) >= 0)


class _StateSetMatcher:
    """The pattern as a nondeterministic automaton run over the string, its set of states
    an int's bits (bit i: tokens before i matched): one step per character, never a
    backtrack. Slower per character than _StarMatcher, so kept for what it cannot do."""

    __slots__ = ("_size", "_stars", "_free_stars", "_by_char", "_any", "_any_no_colon")

    def __init__(self, tokens: list[str]) -> None:
        self._size = len(tokens)
        bits = {kind: sum(1 << i for i, t in enumerate(tokens) if t == kind)
                for kind in (ANY, ANY_BUT_COLON, STAR, STAR_BUT_COLON)}
        self._any, self._any_no_colon = bits[ANY], bits[ANY_BUT_COLON]
        self._stars, self._free_stars = bits[STAR] | bits[STAR_BUT_COLON], bits[STAR]
        self._by_char: dict[str, int] = {}
        for i, t in enumerate(tokens):
            if len(t) == 1:
                self._by_char[t] = self._by_char.get(t, 0) | (1 << i)

    def _closure(self, states: int) -> int:
        # A star may match nothing: being before it is also being after it.
        while True:
            more = ((states & self._stars) << 1) & ~states
            if not more:
                return states
            states |= more

    def __call__(self, s: str) -> bool:
        states = self._closure(1)
        for c in s:
            colon = c == ":"
            steps = self._by_char.get(c, 0) | self._any | (0 if colon else self._any_no_colon)
            stay = self._free_stars if colon else self._stars
            states = self._closure(((states & steps) << 1) | (states & stay))
            if not states:
                return False
        return bool(states >> self._size & 1)


def _glob_tokens(pattern: str) -> Iterator[str]:
    for ch in pattern:
        yield STAR if ch == "*" else ANY if ch == "?" else _LITERALS.get(ch, ch)


def _matcher(pattern: str, tokens: list[str]) -> Matcher:
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        return unliteral(pattern).__eq__
    if pattern.endswith("*") and not has_wildcard(pattern[:-1]):
        prefix = unliteral(pattern[:-1])
        return lambda s: s.startswith(prefix)
    return _StarMatcher.make(tokens)


@lru_cache(maxsize=4096)
def glob(pattern: str, ignore_case: bool = False) -> Matcher:
    """Whole-string `*`/`?` match. With ignore_case the caller passes lower-cased values."""
    if ignore_case:
        pattern = pattern.lower()
    return _matcher(pattern, list(_glob_tokens(pattern)))


def glob_any(patterns: list[str]) -> Matcher:
    """Whether any of several globs matches (StringLike with several values)."""
    matchers = [glob(p) for p in patterns]
    if _always in matchers:
        return _always
    return lambda s: any(m(s) for m in matchers)


def _arn_tokens(pattern: str) -> Iterator[str]:
    # Segments 0..4 (arn, partition, service, region, account) are colon-bounded.
    parts = pattern.split(":", 5)
    for i, seg in enumerate(parts):
        if i:
            yield ":"
        last_segment = i == len(parts) - 1
        for j, ch in enumerate(seg):
            if ch == "*":
                # A trailing `*` may run past colons; an inner one may not.
                yield STAR if last_segment or j == len(seg) - 1 else STAR_BUT_COLON
            elif ch == "?":
                yield ANY if last_segment else ANY_BUT_COLON
            else:
                yield _LITERALS.get(ch, ch)


@lru_cache(maxsize=4096)
def arn(pattern: str) -> Matcher:
    """Resource-element / ArnLike matching, case-sensitive."""
    return _matcher(pattern, list(_arn_tokens(pattern)))


def arn_condition(pattern: str) -> Matcher:
    """ArnEquals/ArnLike: like `arn`, but the value must itself be a six-part ARN."""
    inner = arn(pattern)
    return lambda s: s.count(":") >= 5 and s.startswith("arn:") and bool(inner(s))
