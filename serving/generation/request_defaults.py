"""What a generation request gets when it names nothing: steps, primer, and the named primers.

Light on purpose (no TensorFlow, no music21): ``folkgen``'s flags show these in ``--help``.
"""
from __future__ import annotations

from preprocessing.melody.events import Event

# Tokens sampled per melody when a request names none: 16 bars of 4/4 of 16th notes; room for a
# whole ABC tune (the Irish corpus averages about 260 characters).
DEFAULT_STEPS = 256
DEFAULT_CHARACTER_STEPS = 800
# Without a primer: the slides' "Ah vous dirais-je maman" for a timestep model; a meter-aware one
# (told the meter, mode and bar position) starts from the song start alone, in its corpus's rhythm
# rather than twinkle's quarter and half notes; for a character model the start of a header (under
# constraints the request writes its L, M and K).
DEFAULT_PRIMER = "twinkle"
DEFAULT_CONDITIONED_PRIMER = "/"
DEFAULT_ABC_PRIMER = "X:1\n"

# "Ah vous dirais-je maman" in C, the primer of the slides: C C G G A A G- | F F E E D D C-.
_TWINKLE = tuple(Event(p, q) for p, q in [(60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2),
                                          (65, 1), (65, 1), (64, 1), (64, 1), (62, 1), (62, 1), (60, 2)])
NAMED_PRIMERS: dict[str, tuple[Event, ...]] = {"twinkle": _TWINKLE}
