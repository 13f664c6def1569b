"""The bars of a generated tune for ``serving.generation.vary``: where each one lies in the tokens,
and the masks inside a regenerated one (the tokens that let it fill exactly what the original bar
filled and leave every kept token after it valid).

``abc_bars`` cuts an ABC body at its bar lines (the machine's: runs of ``|`` and ``:``, with the
``]`` of ``|]`` or an ending's digit), ``timestep_bars`` cuts timestep steps by the meter after the
primer's pickup (bar 0 is the pickup when there is one).

A goal answers, for the constraint state of one candidate, ``mask(state)`` (bool `[V]`) before each
draw inside its bar and ``finished(state, token)`` after it. A token is allowed when the constraint
machine allows it and some continuation inside the bar reaches the goal (a depth-first search over
the machine's own transitions, memoised per goal, so candidates of one call share it):

- ``TimestepRun``: a run of adjacent timestep bars, exactly their steps; at its end the kept tokens
  after it (up to the next run, or the end symbol) must replay under the bar rules, and a kept tail
  that starts by holding (``_``) holds the same pitch (or rest) as the original did, so the next
  bar sounds as before;
- ``AbcBar``: one ABC bar, closed by the same bar-line text as the original; after it the ABC
  machine must stand exactly where it stood after the original bar (same place in the form,
  endings, pickup and tie), so the kept text after it replays as it did. A pickup keeps its length.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from preprocessing.melody.abc_constraints import AbcConstraint
from preprocessing.melody.abc_grammar import GRID, length_completions
from preprocessing.melody.abc_reader import State as AbcState
from preprocessing.melody.timestep import DELIMITER, HOLD
from serving.contract.bar_rules import BarRules, RowState, advance, allowed_tokens

# Characters that only ever begin a bar line: inside a bar the first one closes it.
BAR_LINE_CHARACTERS = frozenset("|:")
# The order the search tries characters in: notes, then long lengths first, so a path is found quickly.
_SEARCH_ORDER = "CDEFGABcdefgabz8643/2 -><([{}]',^_=\n"


def abc_bars(text: str) -> list[tuple[int, int, int]]:
    """(start, start of the closing bar line, end) of each bar of the body after the ``K:`` line."""
    offset = 0
    for line in text.split("\n"):
        offset += len(line) + 1
        if line.startswith("K:"):
            break
    else:
        raise ValueError("the ABC tune has no K: line: no body to find bars in")
    bars, start, index = [], None, offset
    while index < len(text):
        if text[index] in BAR_LINE_CHARACTERS:
            close = index
            while index < len(text) and text[index] in BAR_LINE_CHARACTERS:
                index += 1
            if index < len(text) and text[index] in "]12":  # "|]", "|1", ":|2"
                index += 1
            if start is not None:
                bars.append((start, close, index))
            start = None
        else:
            if start is None and text[index] not in " \n":
                start = index
            index += 1
    if start is not None:
        raise ValueError(f"the ABC tune ends inside a bar ({text[start:][:40]!r}): it is unfinished")
    return bars


def timestep_bars(tokens: Sequence[str], primer_length: int, bar: int, pickup: int = 0) -> list[tuple[int, int]]:
    """[start, end) of each bar of ``bar`` steps, from the step after the primer's last ``/`` to the end
    symbol; a ``pickup`` of 1..bar - 1 steps is bar 0 and the last bar is full."""
    primer = list(tokens[:primer_length])
    start = len(primer) - primer[::-1].index(DELIMITER) if DELIMITER in primer else 0
    if any(symbol != DELIMITER for symbol in primer[:start]) or tuple(tokens[start:start + 1]) == (HOLD,):
        raise ValueError("the tune's primer holds notes before its last '/' or starts with a hold: "
                         "its bars are not the score's")
    ends = [index for index in range(primer_length, len(tokens)) if tokens[index] == DELIMITER]
    if not ends or ends[0] - start < pickup or (ends[0] - start - pickup) % bar or ends[0] + 1 != len(tokens):
        raise ValueError("the timestep tune does not end with '/' after whole bars: it is unfinished")
    upbeat = [(start, start + pickup)] if pickup else []
    return upbeat + [(begin, begin + bar) for begin in range(start + pickup, ends[0], bar)]


class TimestepRun:
    """Steps up to ``end`` (a position of the tune) under ``rules``, then ``kept`` token indices, then
    ``following`` (the next run, None: ``kept`` ends the tune); ``held``: the (sounding token,
    is_note) the run must end on, when ``kept`` starts with a hold."""

    def __init__(self, rules: BarRules, end: int, kept: Sequence[int], held: tuple[int, bool] | None,
                 following: TimestepRun | None) -> None:
        self.rules, self.end, self.kept, self.held, self.following = rules, end, list(kept), held, following
        self._plain = held is None and end <= (rules.max_bars - 1) * rules.bar
        self._reach: dict[tuple, bool] = {}
        self._tail: dict[tuple, bool] = {}

    def mask(self, state: RowState) -> np.ndarray:
        allowed = allowed_tokens(self.rules, state)
        allowed[self.rules.end] = False  # a varied bar keeps its length: the tune cannot end inside it
        for token in np.flatnonzero(allowed):
            allowed[token] = self.reachable(advance(self.rules, state, int(token)))
        return allowed

    def finished(self, state: RowState, token: int) -> bool:
        """Whether the run is complete after ``token`` brought the row to ``state``."""
        return state.position == self.end

    def reachable(self, state: RowState) -> bool:
        """Whether some tokens from ``state`` end the run where its kept tokens stay valid."""
        if state.position == self.end:
            return self._tail_valid(state)
        # Before the final bar the rules depend on the position alone; so does the tail after a struck token.
        key = (state.position, state.new_notes > 0) if self._plain else \
            (state.position, state.sounding, state.is_note, state.onset, state.new_notes > 0, state.bar_starts_with_rest)
        known = self._reach.get(key)
        if known is None:
            known = self._reach[key] = self._search(state)
        return known

    def _search(self, state: RowState) -> bool:
        """Depth first: a hold, then the pitch to end on, then every other allowed token."""
        allowed = allowed_tokens(self.rules, state)
        allowed[self.rules.end] = False
        for token in [self.rules.hold] + ([self.held[0]] if self.held else []):
            if allowed[token]:
                if self.reachable(advance(self.rules, state, token)):
                    return True
                allowed[token] = False
        return any(self.reachable(advance(self.rules, state, token)) for token in np.flatnonzero(allowed).tolist())

    def _tail_valid(self, state: RowState) -> bool:
        if self.held is not None and (state.sounding, state.is_note) != self.held:
            return False
        # A struck first token forgets the run but for whether a new note was written; a hold keeps its event.
        key = (state.sounding, state.is_note, state.onset, state.new_notes > 0) if self.held else (state.new_notes > 0,)
        known = self._tail.get(key)
        if known is None:
            known = self._tail[key] = self._replay(state)
        return known

    def _replay(self, state: RowState) -> bool:
        for token in self.kept:
            if state.ended or not allowed_tokens(self.rules, state)[token]:
                return False
            state = advance(self.rules, state, token)
        return self.following.reachable(state) if self.following is not None else state.ended


class AbcBar:
    """One ABC bar: characters of ``vocabulary`` until the bar line ``close``, which must leave the
    machine in ``goal`` (``after_close`` of the original); the bar closes at tick ``ticks`` with the
    form position ``bars`` (the original's)."""

    def __init__(self, machine: AbcConstraint, vocabulary: Sequence[str], close: str, goal: AbcState,
                 ticks: int, bars: object) -> None:
        self.machine, self.vocabulary, self.close, self.goal = machine, tuple(vocabulary), close, goal
        self.ticks, self.bars = ticks, bars
        rank = {char: order for order, char in enumerate(_SEARCH_ORDER)}
        self._content = sorted((index for index, char in enumerate(self.vocabulary)
                                if len(char) == 1 and char not in BAR_LINE_CHARACTERS),
                               key=lambda index: rank.get(self.vocabulary[index], len(rank)))
        self._reach: dict[AbcState, bool] = {}

    def mask(self, state: AbcState) -> np.ndarray:
        allowed = np.array(self.machine.allowed(state, self.vocabulary), bool)
        # The bar begins with its music: blank space before it stays the original's.
        opening = state.prev in ("start", "bar", "newline") or (state.token[:1] == ("bar",))
        for index in np.flatnonzero(allowed):
            char = self.vocabulary[index]
            if char == self.close[0]:
                allowed[index] = self.closes(state)
            elif char in BAR_LINE_CHARACTERS or (opening and char in " \n"):
                allowed[index] = False
            else:
                allowed[index] = self.reachable(self.machine.step(state, char))
        return allowed

    def finished(self, state: AbcState, token: int) -> bool:
        """Whether ``token`` began the bar line (the rest of it is kept)."""
        return self.vocabulary[token] == self.close[0]

    def closes(self, state: AbcState) -> bool:
        """Whether writing the bar line now leaves the machine where the original bar did."""
        for char in self.close:
            state = self.machine.step(state, char)
            if state is None:
                return False
        return after_close(self.machine, state) == self.goal

    def reachable(self, state: AbcState | None) -> bool:
        """Whether some characters from ``state`` lead to a bar line that closes the bar."""
        if state is None:
            return False
        known = self._reach.get(state)
        if known is None:
            known = self._reach[state] = self._search(state)
        return known

    def _search(self, state: AbcState) -> bool:
        if self.closes(state):
            return True
        if self._overfull(state) or (not state.fresh and state.bars != self.bars):
            return False  # too long for the bar, or past its start without the original's ending marker
        allowed = self.machine.allowed(state, self.vocabulary)
        return any(self.reachable(self.machine.step(state, self.vocabulary[index]))
                   for index in self._content if allowed[index])

    def _overfull(self, state: AbcState) -> bool:
        """Whether the bar is already past its length, counting the least the open note or chord adds."""
        least = 0
        if state.token and state.token[0] in ("note", "chord"):
            suffix = state.token[4] if state.token[0] == "note" else state.token[5]
            least = min(length_completions(suffix) or (GRID,))
            if state.tuplet is not None:
                _, notes, in_time_of, _ = state.tuplet
                least = least * in_time_of // notes
            elif state.broken:
                least = least * state.broken // 2
        return state.pos + least > self.ticks


def after_close(machine: AbcConstraint, state: AbcState) -> AbcState | None:
    """The state just after a bar line, compared across candidates: the bar line is ended by a
    newline (which follows any bar line and continues none), unless it ended the tune."""
    return state if machine.is_complete(state) else machine.step(state, "\n")
