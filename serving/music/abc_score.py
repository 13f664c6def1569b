"""ABC text -> a music21 Score with the tune's own bars, as the text wrote them.

music21's ABC reader keeps the tune's bar lines (a short first bar is a pickup measure, number 0,
padded on the left), repeat bar lines (``|:`` ``:|``) and first / second endings (``[1`` ``|2``)
as RepeatBrackets. What it gets wrong is mended here, around it:

- the fermata shorthand ``H`` swallows the note it decorates (``c3 Hd2 e`` reads C, E): it is
  given to music21 as ``!fermata!``, which keeps the note;
- a tie between different pitches (``B3- A2``) is kept as a tie, which its MIDI writer plays as one
  long B: such a tie is dropped and both notes stay;
- an ending other than a first one never spans more than one bar (music21 assumes ABC endings
  close at once): it is extended to the bar line that closes it (``||``, ``:|``, ``|]``);
- bars are numbered from 1 (music21 may start at 0 without a pickup), the pickup measure is 0
  and implicit (MusicXML ``implicit="yes"``), so it is not counted as bar 1;
- a bar shorter than its meter (a bar split by a repeat, a tune's last bar) is filled by
  music21's MusicXML writer with hidden rests, so MusicXML readers play a gap: its missing
  length is declared as right padding, which the writer respects;
- a bar longer than its meter is split by music21 (``reBar``) into a full bar and the rest under a
  short time signature, and the meter's TimeSignature object is then put back into a second
  measure, which its MIDI writer refuses: each measure gets its own copy;
- a ``:|`` after another ``:|`` with no ``|:`` between them repeats from the start for music21,
  but from the bar after that first ``:|`` in ABC (abc2midi plays it so): that bar gets ``|:``;
- a tune with fewer than two plain bar lines (``|``) comes back without measures: it is barred
  by its meter from the first note (its repeats and pickup are then lost, and a warning says so).
"""
from __future__ import annotations

import copy
import logging
import re

from music21 import bar, spanner, stream, tie
from music21.stream.enums import ShowNumber

from preprocessing.melody import music21_reader

logger = logging.getLogger(__name__)

_FIELD_LINE = re.compile(r"^[A-Za-z+]:(?![|:])")  # "A:|" is a note and a repeat, not a field
# Chord symbols / annotations, !decorations!, inline fields and comments pass unchanged; a bare H
# outside them is the fermata shorthand.
_BODY_PARTS = re.compile(r'"[^"\n]*"|![^!\n]*!|\[[A-Za-z]:[^\]\n]*\]|%.*|H')


def read_abc_score(text: str) -> stream.Score:
    """One ABC tune -> a Score of one part whose measures are the tune's bars; ValueError when
    music21 cannot read it."""
    score = music21_reader.parse_abc_text(spell_out_fermatas(text))
    if not isinstance(score, stream.Score) or not score.parts:
        raise ValueError(f"ABC text {' '.join(text.split())[:60]!r} holds no part")
    for part in score.parts:
        if not part.getElementsByClass(stream.Measure):
            logger.warning("ABC tune %r has fewer than two plain bar lines: barred by its meter",
                           " ".join(text.split())[:60])
            part.makeMeasures(inPlace=True)
        _unshare_time_signatures(part)
        drop_unequal_ties(part)
        close_endings(part)
        open_implied_repeats(part)
        _number_bars(part)
    return score


def spell_out_fermatas(text: str) -> str:
    """The text with each body ``H`` shorthand written ``!fermata!`` (field lines unchanged)."""
    return "\n".join(line if _FIELD_LINE.match(line) else _BODY_PARTS.sub(_fermata, line)
                     for line in text.split("\n"))


def _fermata(match: re.Match[str]) -> str:
    return "!fermata!" if match.group(0) == "H" else match.group(0)


def drop_unequal_ties(part: stream.Part) -> None:
    """Removes every tie whose next note has other pitches (or is a rest, or there is none)."""
    notes = [element for element in part.recurse().notesAndRests
             if not element.duration.isGrace and "Harmony" not in element.classes]
    for current, following in zip(notes, notes[1:] + [None]):
        if current.isRest or current.tie is None or current.tie.type not in ("start", "continue"):
            continue
        if following is not None and not following.isRest and following.pitches == current.pitches:
            continue
        logger.info("tie from %s in measure %s dropped: the next note is not %s (ties join equal pitches only)",
                    current.pitches[0].nameWithOctave, current.measureNumber, current.pitches[0].nameWithOctave)
        current.tie = None if current.tie.type == "start" else tie.Tie("stop")
        if following is not None and following.tie is not None and not following.isRest:
            following.tie = None if following.tie.type == "stop" else tie.Tie("start")


def close_endings(part: stream.Part) -> None:
    """Extends each ending that ends on a plain bar line up to the first bar that ends on a
    double, final or repeat bar line (or the tune's last bar), unless a repeat or another ending
    starts first."""
    measures = list(part.getElementsByClass(stream.Measure))
    brackets = list(part.getElementsByClass(spanner.RepeatBracket))
    starts = {id(bracket.getFirst()) for bracket in brackets}
    for bracket in brackets:
        last = bracket.getLast()
        if last.rightBarline is not None or last not in measures:
            continue
        following = measures[measures.index(last) + 1:]
        for count, measure in enumerate(following, start=1):
            if id(measure) in starts or measure.leftBarline is not None:
                break
            if measure.rightBarline is not None or count == len(following):
                bracket.addSpannedElements(following[:count])
                break


def open_implied_repeats(part: stream.Part) -> None:
    """Starts a repeat after each ``:|`` that a later ``:|`` returns to without a ``|:`` between."""
    measures = list(part.getElementsByClass(stream.Measure))
    after_end: stream.Measure | None = None
    for index, measure in enumerate(measures):
        if isinstance(measure.leftBarline, bar.Repeat):
            after_end = None
        if isinstance(measure.rightBarline, bar.Repeat) and measure.rightBarline.direction == "end":
            if after_end is not None:
                after_end.leftBarline = bar.Repeat(direction="start")
            after_end = measures[index + 1] if index + 1 < len(measures) else None


def _unshare_time_signatures(part: stream.Part) -> None:
    """Replaces each TimeSignature that sits in more than one measure by a copy in the later ones."""
    seen: set[int] = set()
    for measure in part.getElementsByClass(stream.Measure):
        signature = measure.timeSignature
        if signature is not None and id(signature) in seen:
            measure.timeSignature = copy.deepcopy(signature)
        elif signature is not None:
            seen.add(id(signature))


def _number_bars(part: stream.Part) -> None:
    """Numbers the measures 0 (an implicit pickup) or 1 onwards; short bars get right padding."""
    measures = list(part.getElementsByClass(stream.Measure))
    pickup = bool(measures) and measures[0].paddingLeft > 0
    for number, measure in enumerate(measures, start=0 if pickup else 1):
        measure.number = number
        missing = measure.barDuration.quarterLength - measure.paddingLeft - measure.duration.quarterLength
        if missing > 0:
            measure.paddingRight = missing
    if pickup:
        measures[0].showNumber = ShowNumber.NEVER
