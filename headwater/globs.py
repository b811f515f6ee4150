"""Glob patterns compiled to a linear-time matcher: no backtracking, whatever the pattern.

Syntax: `*` and `?` stay within a segment, `**/` is zero or more whole segments, `**` (not followed
by `/`) is any run of characters across segments, `[abc]`, `[a-z]` and `[!a]` (or `[^a]`) are
character classes that never match `/`. A pattern is simulated as a set of states over the path's
characters (Thompson's construction), with the state sets cached as a small lazily built automaton
(bounded in states and moves), so a match costs at most (path length × pattern length) steps and
usually one step per character.
Patterns are bounded in length and in their number of `**`, refused beyond with `InvalidInput`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from threading import Lock

from headwater.errors import InvalidInput

MAX_GLOB_CHARS = 1024
MAX_GLOBSTARS = 32
_MAX_CACHED_STATES = 2048
_MAX_CACHED_MOVES = 65536
_CACHE_LOCK = Lock()

# Node kinds: how one state consumes a character.
_LITERAL, _ONE, _CLASS, _STAR, _ANY, _GROUP_ENTER, _GROUP_BODY = range(7)


@dataclass(frozen=True)
class _Node:
    kind: int
    char: str = ""
    ranges: tuple[tuple[str, str], ...] = ()
    negated: bool = False

    def admits(self, c: str) -> bool:
        """Whether this node may consume `c` (for the kinds that consume at all)."""
        if self.kind == _LITERAL:
            return c == self.char
        if self.kind == _ONE or self.kind == _STAR:
            return c != "/"
        if self.kind == _CLASS:
            if c == "/":
                return False
            inside = any(low <= c <= high for low, high in self.ranges)
            return inside != self.negated
        return self.kind in (_ANY, _GROUP_BODY)


def _class(body: str, pattern: str) -> _Node:
    negated = body[:1] in ("!", "^")
    if negated:
        body = body[1:]
    if body == "":
        raise InvalidInput(f"glob {pattern!r} has an empty character class")
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise InvalidInput(f"glob {pattern!r} has a reversed range {low}-{high}")
            ranges.append((low, high))
            i += 3
        else:
            ranges.append((body[i], body[i]))
            i += 1
    return _Node(_CLASS, ranges=tuple(ranges), negated=negated)


def _parse(pattern: str) -> tuple[_Node, ...]:
    if len(pattern) > MAX_GLOB_CHARS:
        raise InvalidInput(f"a glob is limited to {MAX_GLOB_CHARS} characters")
    if pattern.count("**") > MAX_GLOBSTARS:
        raise InvalidInput(f"a glob is limited to {MAX_GLOBSTARS} '**'")
    nodes: list[_Node] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            nodes += [_Node(_GROUP_ENTER), _Node(_GROUP_BODY)]
            i += 3
            continue
        if pattern.startswith("**", i):
            nodes.append(_Node(_ANY))
            i += 2
            continue
        if c == "*":
            nodes.append(_Node(_STAR))
        elif c == "?":
            nodes.append(_Node(_ONE))
        elif c == "[":
            close = pattern.find("]", i + 1)
            if close == -1:
                raise InvalidInput(f"glob {pattern!r} has an unclosed '['")
            nodes.append(_class(pattern[i + 1 : close], pattern))
            i = close
        else:
            nodes.append(_Node(_LITERAL, char=c))
        i += 1
    return tuple(nodes)


@dataclass
class Glob:
    """One compiled pattern. `match` answers whether a whole relative path matches it."""

    pattern: str
    nodes: tuple[_Node, ...]
    _ids: dict[frozenset[int], int] = field(default_factory=dict, repr=False)
    _sets: list[frozenset[int]] = field(default_factory=list, repr=False)
    _moves: list[dict[str, int]] = field(default_factory=list, repr=False)
    _move_count: int = field(default=0, repr=False)
    _start: frozenset[int] = field(default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self._start = self._closure([0], [0])
        self._intern(self._start)  # always state 0 of the cache

    @property
    def final(self) -> int:
        return len(self.nodes)

    def _closure(self, seeds: list[int], counter: list[int]) -> frozenset[int]:
        """Every state reachable from `seeds` without consuming a character."""
        seen: set[int] = set()
        stack = list(seeds)
        while stack:
            state = stack.pop()
            counter[0] += 1
            if state in seen:
                continue
            seen.add(state)
            if state == self.final:
                continue
            kind = self.nodes[state].kind
            if kind in (_STAR, _ANY):
                stack.append(state + 1)
            elif kind == _GROUP_ENTER:
                stack += [state + 1, state + 2]
        return frozenset(seen)

    def _step(self, states: frozenset[int], c: str, counter: list[int]) -> frozenset[int]:
        """The state set after consuming `c` from `states`."""
        targets: list[int] = []
        for state in states:
            counter[0] += 1
            if state == self.final:
                continue
            node = self.nodes[state]
            if not node.admits(c):
                continue
            if node.kind in (_STAR, _ANY):
                targets.append(state)
            elif node.kind == _GROUP_BODY:
                targets.append(state)
                if c == "/":
                    targets.append(state + 1)
            else:
                targets.append(state + 1)
        return self._closure(targets, counter)

    def _intern(self, states: frozenset[int]) -> int | None:
        """The cached automaton state for `states`, or None once the cache is full (then steps are simulated)."""
        with _CACHE_LOCK:
            known = self._ids.get(states)
            if known is None and len(self._sets) < _MAX_CACHED_STATES:
                known = self._ids[states] = len(self._sets)
                self._sets.append(states)
                self._moves.append({})
            return known

    def match_counting(self, text: str) -> tuple[bool, int]:
        """Whether `text` matches, and the number of state steps it took (at most linear in `len(text)`)."""
        counter = [0]
        states = self._closure([0], counter)
        current = self._intern(states)
        for c in text:
            counter[0] += 1
            cached = self._moves[current].get(c) if current is not None else None
            if cached is not None:
                current, states = cached, self._sets[cached]
            else:
                states = self._step(states, c, counter)
                following = self._intern(states)
                if current is not None and following is not None and self._move_count < _MAX_CACHED_MOVES:
                    self._moves[current][c] = following
                    self._move_count += 1
                current = following
            if not states:
                return False, counter[0]
        return self.final in states, counter[0]

    def match(self, text: str) -> bool:
        """Whether `text` matches: one cached move per character, the state simulation on a miss."""
        moves, sets = self._moves, self._sets
        counter = [0]
        states = self._start
        current: int | None = 0
        for c in text:
            following = moves[current].get(c) if current is not None else None
            if following is None:
                states = self._step(states if current is None else sets[current], c, counter)
                following = self._intern(states)
                if current is not None and following is not None and self._move_count < _MAX_CACHED_MOVES:
                    moves[current][c] = following
                    self._move_count += 1
                if following is None:
                    current = None
                    if not states:
                        return False
                    continue
            current = following
            if not sets[current]:
                return False
        return self.final in (states if current is None else sets[current])


@lru_cache(maxsize=128)
def compile_glob(pattern: str) -> Glob:
    """Compile (and cache) a glob, or raise `InvalidInput` naming what is wrong or which bound it exceeds."""
    return Glob(pattern, _parse(pattern))
