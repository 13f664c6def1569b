"""The incremental ABC state machine: which next characters keep a valid tune possible.

``AbcConstraint.from_request(...)`` checks a request; ``start()`` is the state before the first
body character (the client writes X, M, L and K itself); ``allowed(state, vocabulary)`` masks a
vocabulary; ``advance(state, char)`` follows one character; ``is_complete(state)`` says the final
bar line is written. A character is allowed only if, after it, some sequence of allowed
characters completes the tune: every bar fills its meter, the form, repeats and ``bars`` are
met, and with ``end_on_tonic`` each strain's last note is the tonic. States are small named
tuples (immutable, hashable); ``allowed`` is cached per class of states (``mask_key(state)``: the
state with what cannot change its mask folded away), viability per class likewise.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import lru_cache

from preprocessing.melody import abc_bars
from preprocessing.melody.abc_bars import Bars
from preprocessing.melody.abc_grammar import (
    ACCIDENTALS,
    FINAL_TICKS,
    GRID,
    MAX_OCTAVE_MARKS,
    NOTE_LETTERS,
    TUPLETS,
    Plan,
    length_completions,
    make_plan,
    note_pitch,
)
from preprocessing.melody.abc_reader import AbcReader, State

logger = logging.getLogger(__name__)
_CACHE_SIZE = 1 << 18
# Bars before a strain's last that allow the same characters: from 3 bars before it on, the rules
# of the bars to come (endings two bars before the end, the last bar's length and tonic) are the same.
_FAR = 3
# Every character the grammar can read; nothing else is ever allowed.
_ALPHABET = frozenset(NOTE_LETTERS) | frozenset(ACCIDENTALS) | frozenset("z123468/|:[]{}(-<>',\n ")


class AbcConstraint(AbcReader):
    """The state machine for one request (see the module docstring)."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self._allows = lru_cache(maxsize=_CACHE_SIZE)(self._allows_uncached)
        self._finish = lru_cache(maxsize=_CACHE_SIZE)(self._finish)  # the same for every character that ends a token
        self._bars_class = lru_cache(maxsize=_CACHE_SIZE)(self._bars_class)
        self._mask_cache: dict[object, tuple[bool, ...]] = {}
        self._viable_cache: dict[object, bool] = {}

    @classmethod
    def from_request(cls, meter: str = "4/4", unit: str = "1/8", key: str = "C", bars: int | None = None,
                     form: str | None = None, end_on_tonic: bool = False, min_bars: int = 1,
                     chromatic: bool = True) -> AbcConstraint:
        """A machine for a request (``min_bars``, ``chromatic``: see ``Plan``); ValueError naming
        what cannot be met."""
        plan = make_plan(meter, unit, key, bars, form, end_on_tonic, min_bars, chromatic)
        logger.debug("ABC constraint plan: %s", plan)
        return cls(plan)

    def start(self) -> State:
        """The state before the first body character."""
        return State()

    def allowed(self, state: State, vocabulary: Sequence[str]) -> list[bool]:
        """For each vocabulary entry, whether it may come next (multi-character entries never).
        Cached per class of states that allow the same characters (``mask_key``)."""
        vocabulary = tuple(vocabulary)
        key = (self.mask_key(state), vocabulary)
        mask = self._mask_cache.get(key)
        if mask is None:
            if len(self._mask_cache) >= _CACHE_SIZE:
                self._mask_cache.clear()
            mask = self._mask_cache[key] = tuple(char in _ALPHABET and self._allows_uncached(state, char)
                                                 for char in vocabulary)
        return list(mask)

    def advance(self, state: State, char: str) -> State:
        """The state after ``char``; ValueError naming it and the position if it is not allowed."""
        if not self._allows(state, char):
            bars = state.bars
            raise ValueError(f"{char!r} is not allowed in strain {bars.strain + 1}, bar {bars.bar + 1}, "
                             f"at {state.pos}/{self.plan.bar_ticks} of the bar (after token {state.token})")
        return self.step(state, char)

    def is_complete(self, state: State) -> bool:
        """Whether the final bar line has been written (nothing more is allowed)."""
        return state.bars.done

    def token_closed(self, state: State) -> State | None:
        """``state`` with its open token (a note, chord or bar line) ended as written so far, as the
        next character that cannot continue it would end it; None if it cannot end there."""
        return self._finish(state) if state.token else state

    def _allows_uncached(self, state: State, char: str) -> bool:
        after = self.step(state, char) if len(char) == 1 else None
        return after is not None and self._viable(after)

    # -- can the tune still be completed? ---------------------------------------------------------

    def _viable(self, s: State) -> bool:
        """Whether some sequence of characters completes the tune from ``s``. Between tokens, a
        pitch matters only as tonic or not, and the bar's accidentals not at all (the tonic can
        always be written with one): those states share one cache entry."""
        if not s.token:
            key = (self._bars_class(s.bars), s.pos, s.prev, s.fresh, self._pitch_class_of(s.last_pitch),
                   self._pitch_class_of(s.tie), s.broken, s.tuplet, s.grace, self._may_end(s))
        elif s.token[0] == "note" and s.tie is None and s.token[2] not in ("", "z"):
            key = self._note_key(s)
        else:
            key = self.mask_key(s)
        known = self._viable_cache.get(key)
        if known is None:
            if len(self._viable_cache) >= _CACHE_SIZE:
                self._viable_cache.clear()
            known = self._viable_cache[key] = self._viable_uncached(s)
        return known

    def mask_key(self, s: State) -> State:
        """``s`` with what cannot change which characters it allows folded away: the last pitch
        (only whether it is the tonic matters: a tie keeps its own pitch in ``tie``), the bar
        number and pickup (``_bars_class``) and, while an untied note is written, what placing it
        overwrites and its letter but for case and tonic (``_open_note``)."""
        if s.token and s.token[0] == "note" and s.tie is None and s.token[2]:
            s = self._open_note(s)
        return s._replace(bars=self._bars_class(s.bars), last_pitch=self._pitch_class_of(s.last_pitch))

    def _open_note(self, s: State) -> State:
        """An untied note or rest being written, as a class: ``_place`` overwrites what came before
        it (``prev``, ``fresh``, the last note, grace notes), and an unambiguous letter without an
        accidental matters only by its case (the octave mark) and whether it is the tonic (the
        pitch a tie after it keeps is folded the same way in ``_viable``)."""
        s = s._replace(prev="event", fresh=False, last_pitch=None, last_len=None, grace=False)
        _, accidental, letter, marks, suffix = s.token
        if accidental or letter == "z" or letter.upper() in s.accidentals:
            return s
        tonic = note_pitch(letter, "", 0, self.plan.key) % 12 == self.plan.tonic_pc
        return s._replace(token=("note", "", (tonic, letter.islower()), marks, suffix))

    def _note_key(self, s: State) -> tuple:
        """An untied note being written: whether it can be placed and the tune completed depends on
        its letter and octave only through whether its pitch is the tonic (or ambiguous)."""
        _, accidental, letter, _, suffix = s.token
        ambiguous = not accidental and letter.upper() in s.accidentals
        tonic = not ambiguous and note_pitch(letter, accidental, 0, self.plan.key) % 12 == self.plan.tonic_pc
        placed = s._replace(token=(), prev="event", fresh=False, last_pitch=None, last_len=None, grace=False)
        return self.mask_key(placed), tonic, ambiguous, suffix

    def _bars_class(self, bars: Bars) -> Bars:
        """The bar number as far as it matters; from ``_FAR`` bars before the strain's last on, the
        pickup not at all: the bar's own rules do not read it, no tie reaches the last bar, and every
        pickup the rules allow leaves each later bar (an upbeat, a strain's shorter last bar) room
        to be filled and to end on a tonic."""
        count = self.plan.strains[bars.strain].bars
        if count is None:
            return bars._replace(bar=min(bars.bar, self.plan.min_bars))
        if count - bars.bar >= _FAR and bars.pickup is not None and not bars.upbeat:
            return bars._replace(bar=count - _FAR, pickup=0)
        return bars._replace(bar=count - min(count - bars.bar, _FAR))

    def _pitch_class_of(self, pitch: int | None) -> int | None:
        """The tonic's pitch class for the tonic, the next one for any other pitch."""
        tonic = self.plan.tonic_pc
        return None if pitch is None else tonic if pitch % 12 == tonic else tonic + 1

    def _viable_uncached(self, s: State) -> bool:
        if s.bars.done:
            return True
        kind = s.token[0] if s.token else None
        if kind == "note":
            return any(self._viable(placed) for placed in self._note_endings(s))
        if kind == "chord" and s.token[4]:
            return any(self._viable(s._replace(token=(), pos=s.pos + ticks, prev="event", fresh=False,
                                            last_pitch=None, last_len=None))
                       for ticks in length_completions(s.token[5]))
        if kind == "chord":
            return self._has_room(s, ends_off_tonic=True)
        if kind == "bar":
            tokens = self._bar_tokens(s)
            return any(self._viable(self._apply_bar(s, bars)) for text, bars in tokens.items()
                       if text.startswith(s.token[1]))
        if kind == "[":
            found = abc_bars.markers(self.plan, s.bars) if s.fresh and s.tie is None else {}
            return any(self._viable(s._replace(token=(), bars=bars, prev="marker")) for bars in found.values()) \
                or (self._free(s) and not s.bars.need_second and self._has_room(s, ends_off_tonic=True))
        if kind == "grace":
            return self._viable(s._replace(token=(), grace=True))
        if kind == "(":
            return any(self._viable(s._replace(token=(), tuplet=(notes, notes, in_time_of, 0)))
                       for notes, in_time_of in TUPLETS.values())
        if self._must_open(s) or s.bars.need_second:
            return True
        if any(self._viable(self._apply_bar(s, bars)) for bars in self._bar_tokens(s).values()):
            return True
        return self._has_room(s, ends_off_tonic=False)

    def _note_endings(self, s: State) -> Iterator[State]:
        """Ways the open note token can end, placed: each length, and (octave marks only change
        the pitch class for a tie) one tonic and one other letter after a lone accidental."""
        _, accidental, letter, marks, suffix = s.token
        for each in [letter] if letter else self._letter_choices(s, accidental):
            more = range(marks, MAX_OCTAVE_MARKS + 1) if s.tie is not None and not suffix else (marks,)
            for count in more:
                for ticks in length_completions(suffix):
                    placed = self._place(s, accidental, each, count, ticks)
                    if placed is not None:
                        yield placed

    def _letter_choices(self, s: State, accidental: str) -> list[str]:
        if s.tie is not None:
            return sorted(NOTE_LETTERS)
        by_class = {note_pitch(letter, accidental, 0, self.plan.key) % 12 == self.plan.tonic_pc: letter
                    for letter in sorted(NOTE_LETTERS)}
        return list(by_class.values())

    def _has_room(self, s: State, ends_off_tonic: bool) -> bool:
        """Whether the bar has room for what must come next, then a tonic last note if one is due.
        ``ends_off_tonic``: the next event (a chord) cannot be that tonic."""
        limit, ends_strain = abc_bars.target(self.plan, s.bars)
        tonic_due = ends_strain and self.plan.end_on_tonic
        final = FINAL_TICKS if tonic_due else 0  # a tonic of at least one unit ends the strain
        if s.tuplet is not None:
            left, notes, in_time_of, length = s.tuplet
            need = left * (length or GRID) * in_time_of // notes + final
        elif s.broken:
            need = GRID * s.broken + final
        elif s.tie is not None:
            need = final if tonic_due and s.tie % 12 == self.plan.tonic_pc else GRID + final
        else:
            need = (GRID if ends_off_tonic else 0) + final if tonic_due else GRID
        return limit - s.pos >= need
