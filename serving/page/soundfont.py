"""The note samples abcjs's synth plays, made here so the page needs no CDN.

abcjs fetches one file per instrument and pitch: ``<soundFontUrl><instrument>-mp3/<name>.mp3``
(``name`` as ``A0``, ``Bb0`` ... ``C8``: flats, scientific octaves). Each is rendered on first
request: FluidSynth with the General MIDI soundfont ``serving.music.audio`` finds (FluidR3_GM on
Debian), else the NumPy synthesiser; then kept in memory. The bytes are WAV (mono 16-bit): the
browser's ``decodeAudioData`` reads the data by its content, whatever the ``.mp3`` name says.
"""
from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import threading

import mido
import numpy as np

from preprocessing.melody.events import Event
from serving.music import audio

logger = logging.getLogger(__name__)

# The General MIDI programs the page offers, by abcjs's instrument names.
INSTRUMENTS = {"acoustic_grand_piano": 0, "accordion": 21, "violin": 40, "flute": 73}
NOTE_SECONDS = 3.0
SAMPLE_RATE = audio.SAMPLE_RATE
NOTE_PEAK_DBFS = -3.0
_NOTE_NAME = re.compile(r"([A-G])(b?)(\d)")
_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note_pitch(name: str) -> int:
    """abcjs's note name (``C4``, ``Bb3``) -> MIDI pitch 21..108; ValueError naming a bad name."""
    match = _NOTE_NAME.fullmatch(name)
    pitch = (12 * (int(match.group(3)) + 1) + _SEMITONES[match.group(1)] - len(match.group(2))) if match else -1
    if not 21 <= pitch <= 108:
        raise ValueError(f"unknown note {name!r}; expected a piano key such as 'C4' or 'Bb3'")
    return pitch


class NoteSamples:
    """WAV bytes of one note per (instrument, pitch), rendered once and kept."""

    def __init__(self, fluidsynth: bool = True) -> None:
        """``fluidsynth``: render with FluidSynth when it and a soundfont are installed (else NumPy)."""
        self.soundfont = audio.fluidsynth_soundfont() if fluidsynth else None
        self._cache: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    @property
    def synthesiser(self) -> str:
        return audio.synthesiser_name(self.soundfont)

    def wav(self, instrument: str, name: str) -> bytes:
        """The note's WAV bytes; ValueError naming an unknown instrument or note."""
        if instrument not in INSTRUMENTS:
            raise ValueError(f"unknown instrument {instrument!r}; expected one of {', '.join(INSTRUMENTS)}")
        pitch = note_pitch(name)
        with self._lock:
            if (instrument, pitch) not in self._cache:
                samples = self._fluidsynth(INSTRUMENTS[instrument], pitch) if self.soundfont else \
                    audio.synthesise([Event(pitch, NOTE_SECONDS)], tempo_bpm=60.0)
                buffer = io.BytesIO()
                audio.write_samples(buffer, audio.normalise_peak(samples, NOTE_PEAK_DBFS), channels=1)
                self._cache[instrument, pitch] = buffer.getvalue()
            return self._cache[instrument, pitch]

    def _fluidsynth(self, program: int, pitch: int) -> np.ndarray:
        """One note of ``NOTE_SECONDS`` rendered by FluidSynth, mono float32 ``[frames]``."""
        with tempfile.TemporaryDirectory(prefix="folkgen-note-") as folder:
            midi_path, wav_path = os.path.join(folder, "note.mid"), os.path.join(folder, "note.wav")
            _one_note_midi(program, pitch).save(midi_path)
            channels, samples = audio.render_fluidsynth(self.soundfont, midi_path, wav_path, timeout_s=60)
        return samples.reshape(-1, channels).mean(axis=1)[:int(NOTE_SECONDS * SAMPLE_RATE)]


def _one_note_midi(program: int, pitch: int) -> mido.MidiFile:
    """A MIDI file playing ``pitch`` on ``program`` for ``NOTE_SECONDS`` (at 120 bpm, 480 ticks a beat)."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    ticks = int(NOTE_SECONDS * 2 * 480)
    track += [mido.Message("program_change", program=program, time=0),
              mido.Message("note_on", note=pitch, velocity=100, time=0),
              mido.Message("note_off", note=pitch, velocity=0, time=ticks)]
    midi.tracks.append(track)
    return midi

