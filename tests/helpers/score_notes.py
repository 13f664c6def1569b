"""Notes of a music21 score as (MIDI pitch or None, quarters), ties merged, for the serving tests."""
from __future__ import annotations


def merged_notes(score) -> list[tuple[int | None, float]]:
    """music21 notes/rests with ties merged (by their tie marks: music21's stripTies misses some
    chains, and a tie joins only equal pitches), grace notes and chord symbols left out, trailing
    (bar-filling) rests dropped."""
    events: list[tuple[int | None, float]] = []
    tied_on = False
    for element in score.flatten().notesAndRests:
        if element.duration.isGrace or "Harmony" in element.classes:
            continue
        midi = None if element.isRest else element.pitch.midi
        if tied_on and events and events[-1][0] == midi:
            events[-1] = (midi, events[-1][1] + float(element.quarterLength))
        else:
            events.append((midi, float(element.quarterLength)))
        tied_on = element.tie is not None and element.tie.type in ("start", "continue")
    while events and events[-1][0] is None:
        events.pop()
    return events
