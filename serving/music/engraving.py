"""What every written score carries, and the score as it is played.

``dress`` gives a one-part music21 Score a clef chosen by the melody's range (treble, or the
octave treble when the melody lies low), the tempo, a part named after its instrument (notation
programs match parts to instruments by it) and the title and creator (the composer line, which
music21 fills with "Music21" when it is empty). ``played`` is the score as MIDI and audio sound
it: repeats and first / second endings expanded, as abc2midi plays them.
"""
from __future__ import annotations

import copy
import logging

from music21 import bar, clef, instrument, metadata, repeat, stream, tempo

logger = logging.getLogger(__name__)

# The octave treble is chosen when the lowest note needs more than two ledger lines below the
# treble staff (under G3) and the highest would need no more than three above it when written an
# octave up (E5 and below).
_LOW_FOR_TREBLE = 55
_HIGH_FOR_OCTAVE_TREBLE = 76


def dress(score: stream.Score, title: str, creator: str, tempo_bpm: float, novelty: str = "") -> None:
    """Sets clef, tempo, instrument, title, creator and (when given) the novelty line on ``score``
    (one part, with measures; the novelty is a MusicXML ``miscellaneous-field``)."""
    part = score.parts[0]
    first = part.getElementsByClass(stream.Measure).first()
    if first is None:
        raise ValueError(f"score {title!r} has no measures")
    for old in [*first.getElementsByClass(clef.Clef), *part.recurse().getElementsByClass(tempo.MetronomeMark)]:
        old.activeSite.remove(old)
    first.insert(0, clef_for(score))
    first.insert(0, tempo.MetronomeMark(number=tempo_bpm, numberImplicit=True))
    for old in part.getElementsByClass(instrument.Instrument):
        part.remove(old)
    player = instrument.Piano()
    part.insert(0, player)
    part.partName = player.instrumentName
    part.partAbbreviation = None
    part.style.printPartName = False
    part.style.printPartAbbreviation = False
    score.metadata = metadata.Metadata(title=title, composer=creator)
    if novelty:
        score.metadata.addCustom("novelty", novelty)


def clef_for(score: stream.Score) -> clef.Clef:
    """Treble, or treble-8vb for a melody below G3 whose top stays within E5; treble without notes."""
    midis = [pitch.midi for element in score.recurse().notes for pitch in element.pitches
             if "Harmony" not in element.classes]
    if midis and min(midis) < _LOW_FOR_TREBLE and max(midis) <= _HIGH_FOR_OCTAVE_TREBLE:
        return clef.Treble8vbClef()
    return clef.TrebleClef()


def played(score: stream.Score) -> stream.Score:
    """The score with its repeats expanded (itself when it has none). When music21 finds them badly
    formed (e.g. a ``|:`` that no ``:|`` closes), a warning says so and the copy returned has
    plain bar lines instead (music21's MIDI writer would try to expand them again)."""
    if not score.recurse().getElementsByClass(bar.Repeat):
        return score
    try:
        return score.expandRepeats()
    except repeat.ExpanderException as error:
        title = score.metadata.title if score.metadata is not None else ""
        logger.warning("%s: repeats not expanded (%s); MIDI and WAV play it as written", title, error)
    written = copy.deepcopy(score)
    for measure in written.recurse().getElementsByClass(stream.Measure):
        measure.leftBarline = None if isinstance(measure.leftBarline, bar.Repeat) else measure.leftBarline
        measure.rightBarline = None if isinstance(measure.rightBarline, bar.Repeat) else measure.rightBarline
    return written
