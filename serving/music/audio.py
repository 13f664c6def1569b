"""WAV audio of a melody: FluidSynth with a General MIDI soundfont where installed, otherwise a
plain NumPy additive synthesiser (harmonics + attack/decay/release envelope), written with the
stdlib ``wave`` module."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import wave

import numpy as np

from preprocessing.melody.events import Event

logger = logging.getLogger(__name__)

SAMPLE_RATE = 22050
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
)
_HARMONICS = (1.0, 0.45, 0.2, 0.1)  # relative amplitude of partials 1..4
_ATTACK_S, _DECAY_S, _RELEASE_S, _SUSTAIN = 0.01, 0.08, 0.05, 0.6
_PEAK = 0.8


def find_soundfont() -> str | None:
    """The first General MIDI soundfont found (``$FOLKGEN_SOUNDFONT`` first), or None."""
    candidates = [os.environ.get("FOLKGEN_SOUNDFONT", "")] + list(SOUNDFONT_PATHS)
    return next((path for path in candidates if path and os.path.isfile(path)), None)


def write_wav(events: list[Event], path: str, tempo_bpm: float, midi_path: str | None = None) -> str:
    """Writes ``path``; returns the synthesiser used (``"fluidsynth"`` or ``"numpy"``).

    FluidSynth renders ``midi_path`` (the melody's MIDI file) when both it and a soundfont exist.
    """
    soundfont = find_soundfont()
    if midi_path and soundfont and shutil.which("fluidsynth"):
        subprocess.run(["fluidsynth", "-ni", "-q", "-F", path, "-r", str(SAMPLE_RATE), soundfont, midi_path],
                       check=True, capture_output=True, timeout=120)
        return "fluidsynth"
    samples = synthesise(events, tempo_bpm)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes((samples * 32767).astype("<i2").tobytes())
    return "numpy"


def synthesise(events: list[Event], tempo_bpm: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Events -> mono float32 samples ``[round(total seconds * sample_rate)]`` in [-1, 1]."""
    seconds_per_quarter = 60.0 / tempo_bpm
    onsets = np.cumsum([0.0] + [event.quarters for event in events]) * seconds_per_quarter
    audio = np.zeros(int(round(onsets[-1] * sample_rate)), dtype=np.float32)
    for event, onset, end in zip(events, onsets[:-1], onsets[1:]):
        if event.pitch is None:
            continue
        start, stop = int(round(onset * sample_rate)), int(round(end * sample_rate))
        audio[start:stop] += _tone(440.0 * 2 ** ((event.pitch - 69) / 12), stop - start, sample_rate)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio * (_PEAK / peak) if peak > 0 else audio


def _tone(frequency: float, length: int, sample_rate: int) -> np.ndarray:
    """One note ``[length]``: harmonics below Nyquist shaped by an ADSR envelope."""
    time = np.arange(length, dtype=np.float32) / sample_rate
    wave_sum = np.zeros(length, dtype=np.float32)
    for number, amplitude in enumerate(_HARMONICS, start=1):
        if frequency * number < sample_rate / 2:
            wave_sum += amplitude * np.sin(2 * np.pi * frequency * number * time)
    return wave_sum * _envelope(length, sample_rate)


def _envelope(length: int, sample_rate: int) -> np.ndarray:
    attack = min(int(_ATTACK_S * sample_rate), length)
    decay = min(int(_DECAY_S * sample_rate), length - attack)
    release = min(int(_RELEASE_S * sample_rate), length - attack - decay)
    sustain = length - attack - decay - release
    return np.concatenate([
        np.linspace(0.0, 1.0, attack, endpoint=False),
        np.linspace(1.0, _SUSTAIN, decay, endpoint=False),
        np.full(sustain, _SUSTAIN),
        np.linspace(_SUSTAIN, 0.0, release),
    ]).astype(np.float32)
