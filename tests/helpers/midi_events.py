"""Reads a MIDI file back with mido, independently of music21, for the serving tests."""
from __future__ import annotations

import mido


def midi_events(path: str) -> list[tuple[int | None, float]]:
    """Notes of a MIDI file read with mido, gaps as rests (None), in quarter notes."""
    midi = mido.MidiFile(path)
    events, now, onset, current = [], 0, 0, None
    for message in mido.merge_tracks(midi.tracks):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            if now > onset:
                events.append((None, (now - onset) / midi.ticks_per_beat))
            onset, current = now, message.note
        elif message.type in ("note_off", "note_on") and message.note == current:
            events.append((current, (now - onset) / midi.ticks_per_beat))
            onset, current = now, None
    return events
