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
- the pickup measure is marked implicit (MusicXML ``implicit="yes"``), so it is not counted as bar 1.
"""
from __future__ import annotations

import logging
import re

from music21 import spanner, stream, tie
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
        drop_unequal_ties(part)
        close_endings(part)
        _mark_pickup(part)
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


def _mark_pickup(part: stream.Part) -> None:
    """The first measure, when music21 read it as an anacrusis (number 0), is written implicit."""
    first = part.getElementsByClass(stream.Measure).first()
    if first is not None and first.number == 0 and first.paddingLeft > 0:
        first.showNumber = ShowNumber.NEVER
