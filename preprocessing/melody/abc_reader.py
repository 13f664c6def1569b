"""Following ABC body text character by character: the state and its transitions.

``AbcReader.step(state, char)`` is the state after one character, or None when the grammar the
machine writes (see ``abc_grammar``) does not take it there; whether the tune can still be
completed afterwards is ``abc_constraints``' question. An accidental is read by some ABC readers
as lasting to the bar line and by others (music21 by default) as applying to its note only: a
note without an accidental whose letter carried one earlier in the bar is ambiguous, so it may
neither be tied to nor end a strain.
"""
from __future__ import annotations

from typing import NamedTuple

from preprocessing.melody import abc_bars
from preprocessing.melody.abc_bars import Bars
from preprocessing.melody.abc_grammar import (
    ACCIDENTALS,
    FINAL_TICKS,
    GRID,
    LENGTHS,
    MAX_CHORD_NOTES,
    MAX_GRACE_NOTES,
    MAX_OCTAVE_MARKS,
    NOTE_LETTERS,
    TUPLETS,
    Plan,
    extends_length,
    note_pitch,
    octave_mark,
)


class State(NamedTuple):
    """Where the machine is. ``token`` is the token being written: ``("note", accidental, letter,
    marks, suffix)`` (letter ``"z"`` a rest, ``""`` not yet written), ``("bar", text)``, ``("[",)``,
    ``("chord", notes, letter, marks, closed, suffix)``, ``("grace", notes, letter, marks)``, ``("(",)``.
    ``prev`` is what came last: start, bar, marker, event, space, newline or open (``-``, ``>``,
    ``(3``, ``{g}``: an event must follow). ``broken`` is the next event's factor code (1: x1/2,
    3: x3/2); ``tuplet`` is (notes left, p, q, written ticks or 0)."""

    bars: Bars = Bars()
    pos: int = 0
    token: tuple = ()
    prev: str = "start"
    fresh: bool = True
    last_pitch: int | None = None
    last_len: int | None = None
    tie: int | None = None
    broken: int = 0
    tuplet: tuple[int, int, int, int] | None = None
    grace: bool = False
    accidentals: frozenset[str] = frozenset()


class AbcReader:
    """The transitions of ``State`` for one request's plan."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def step(self, state: State, char: str) -> State | None:
        if state.bars.done:
            return None
        if state.token:
            extended = self._extend(state, char)
            if extended is not None:
                return extended
            if char == ":" and state.token[0] == "note" and not state.token[3] and not state.token[4]:
                return None  # music21 reads a letter then ":" ("E::") as a field and drops the note
            state = self._finish(state)
            if state is None:
                return None
        return self._begin(state, char)

    def _begin(self, s: State, char: str) -> State | None:
        """A character that starts something new (no token is open)."""
        if char == "\n":
            return s._replace(prev="newline") if s.prev == "bar" else None
        if char == " ":
            return s._replace(prev="space") if s.prev in ("bar", "event", "marker") and self._free(s) else None
        if char in "|:":
            tokens = self._bar_tokens(s)
            return self._bar_text(s, char, tokens) if any(t.startswith(char) for t in tokens) else None
        if self._must_open(s):
            return None
        if s.bars.need_second:
            return s._replace(token=("[",)) if char == "[" else None
        if char in ACCIDENTALS and not self.plan.chromatic:
            return None
        if char in NOTE_LETTERS or char in ACCIDENTALS or char == "z":
            if char == "z" and (s.tie is not None or s.grace or s.tuplet):
                return None
            accidental = char if char in ACCIDENTALS else ""
            return s._replace(token=("note", accidental, "" if accidental else char, 0, ""))
        if s.prev == "event" and char == "-" and s.last_pitch is not None and s.tuplet is None:
            return s._replace(tie=s.last_pitch, prev="open")
        if s.prev == "event" and char in "><" and s.last_len is not None:
            pos = s.pos + (s.last_len // 2 if char == ">" else -(s.last_len // 2))
            return s._replace(pos=pos, broken=1 if char == ">" else 3, prev="open") if pos % GRID == 0 else None
        if char == "[" and (self._free(s) or (s.fresh and s.tie is None)):
            return s._replace(token=("[",))
        if char in "{(" and self._free(s):
            return s._replace(token=("grace", 0, "", 0) if char == "{" else ("(",))
        return None

    def _extend(self, s: State, char: str) -> State | None:
        """``char`` continuing the open token, or None."""
        kind = s.token[0]
        if kind == "note":
            _, accidental, letter, marks, suffix = s.token
            if not letter:
                return s._replace(token=("note", accidental, char, 0, "")) if char in NOTE_LETTERS else None
            if letter != "z" and not suffix and char == octave_mark(letter) and marks < MAX_OCTAVE_MARKS:
                return s._replace(token=("note", accidental, letter, marks + 1, ""))
            return s._replace(token=("note", accidental, letter, marks, suffix + char)) \
                if extends_length(suffix, char) else None
        if kind == "bar":
            tokens = self._bar_tokens(s)
            text = s.token[1] + char
            return self._bar_text(s, text, tokens) if any(t.startswith(text) for t in tokens) else None
        if kind == "[":
            found = abc_bars.markers(self.plan, s.bars) if s.fresh and s.tie is None else {}
            if "[" + char in found:
                return s._replace(token=(), bars=found["[" + char], prev="marker")
            if char in NOTE_LETTERS and self._free(s) and not s.bars.need_second:
                return s._replace(token=("chord", 0, char, 0, False, ""))
            return None
        if kind == "chord":
            return self._extend_chord(s, char)
        if kind == "grace":
            _, notes, letter, marks = s.token
            count = notes + (1 if letter else 0)
            if char in NOTE_LETTERS and count < MAX_GRACE_NOTES:
                return s._replace(token=("grace", count, char, 0))
            if letter and char == octave_mark(letter) and marks < MAX_OCTAVE_MARKS:
                return s._replace(token=("grace", notes, letter, marks + 1))
            return s._replace(token=(), grace=True, prev="open") if char == "}" and count else None
        if char in TUPLETS:  # kind "("
            notes, in_time_of = TUPLETS[char]
            return s._replace(token=(), tuplet=(notes, notes, in_time_of, 0), prev="open")
        return None

    def _extend_chord(self, s: State, char: str) -> State | None:
        _, notes, letter, marks, closed, suffix = s.token
        if closed:
            return s._replace(token=("chord", notes, "", 0, True, suffix + char)) \
                if extends_length(suffix, char) else None
        count = notes + (1 if letter else 0)
        if char in NOTE_LETTERS and count < MAX_CHORD_NOTES:
            return s._replace(token=("chord", count, char, 0, False, ""))
        if letter and char == octave_mark(letter) and marks < MAX_OCTAVE_MARKS:
            return s._replace(token=("chord", notes, letter, marks + 1, False, ""))
        return s._replace(token=("chord", count, "", 0, True, "")) if char == "]" and count >= 2 else None

    def _finish(self, s: State) -> State | None:
        """The open token closed by a character that cannot continue it, or None if it is unfinished."""
        kind = s.token[0]
        if kind == "note" and s.token[2] and s.token[4] in LENGTHS:
            return self._place(s, s.token[1], s.token[2], s.token[3], LENGTHS[s.token[4]])
        if kind == "chord" and s.token[4] and s.token[5] in LENGTHS:
            return s._replace(token=(), pos=s.pos + LENGTHS[s.token[5]], prev="event", fresh=False,
                           last_pitch=None, last_len=None)
        if kind == "bar":
            tokens = self._bar_tokens(s)
            return self._apply_bar(s, tokens[s.token[1]]) if s.token[1] in tokens else None
        return None

    def _place(self, s: State, accidental: str, letter: str, marks: int, written: int) -> State | None:
        """A finished note or rest lasting ``written`` ticks (before broken-rhythm and tuplet factors)."""
        pitch, accidentals = None, s.accidentals
        if letter == "z":
            if s.tie is not None:
                return None
        else:
            upper = letter.upper()
            ambiguous = not accidental and upper in s.accidentals
            sounding = note_pitch(letter, accidental, marks, self.plan.key)
            if s.tie is not None and (ambiguous or sounding != s.tie):
                return None
            pitch = None if ambiguous else sounding
            accidentals = accidentals | {upper} if accidental else accidentals
        tuplet, last_len = s.tuplet, written
        if tuplet is not None:
            left, notes, in_time_of, length = tuplet
            if length and written != length:
                return None
            duration, last_len = written * in_time_of // notes, None
            tuplet = (left - 1, notes, in_time_of, written) if left > 1 else None
        elif s.broken:
            duration, last_len = written * s.broken // 2, None
            if duration % GRID:
                return None
        else:
            duration = written
        return s._replace(token=(), pos=s.pos + duration, prev="event", fresh=False, last_pitch=pitch,
                       last_len=last_len, tie=None, broken=0, tuplet=tuplet, grace=False, accidentals=accidentals)

    # -- bar lines --------------------------------------------------------------------------------

    def _must_open(self, s: State) -> bool:
        return s.prev == "start" and abc_bars.must_open(self.plan)

    def _bar_tokens(self, s: State) -> dict[str, Bars]:
        """Bar lines that may close the bar now, after the tonic and tie rules."""
        if s.broken or s.tuplet or s.grace:
            return {}
        if s.prev == "start":
            return abc_bars.start_tokens(self.plan)
        if s.fresh:
            return {}
        plan = self.plan
        tonic_ok = not plan.end_on_tonic or self._may_end(s)
        return {text: bars for text, (bars, ends_strain) in abc_bars.closings(plan, s.bars, s.pos).items()
                if not (ends_strain and (not tonic_ok or s.tie is not None)) and (s.tie is None or text == "|")}

    def _bar_text(self, s: State, text: str, tokens: dict[str, Bars]) -> State:
        """A bar line written up to ``text``: applied at once when nothing longer can follow."""
        if text in tokens and not any(t != text and t.startswith(text) for t in tokens):
            return self._apply_bar(s, tokens[text])
        return s._replace(token=("bar", text))

    def _apply_bar(self, s: State, bars: Bars) -> State:
        return s._replace(token=(), bars=bars, pos=0, prev="bar", fresh=True, last_pitch=None,
                       last_len=None, accidentals=frozenset())

    def _may_end(self, s: State) -> bool:
        """Whether the last note may end a strain that ends on the tonic: the tonic, written at least
        one unit long (``FINAL_TICKS``), not inside a tuplet or broken rhythm."""
        return s.last_pitch is not None and s.last_pitch % 12 == self.plan.tonic_pc \
            and s.last_len is not None and s.last_len >= FINAL_TICKS

    def _free(self, s: State) -> bool:
        """No tie, broken rhythm, tuplet or grace notes wait for their note."""
        return s.tie is None and not s.broken and s.tuplet is None and not s.grace
