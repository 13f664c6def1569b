"""WAV audio of a melody: FluidSynth with a General MIDI soundfont where installed, otherwise a
plain NumPy additive synthesiser (harmonics + attack/decay/release envelope), written with the
stdlib ``wave`` module. Both are brought to the same loudness: a peak of ``PEAK_DBFS``.

FluidSynth on Debian: ``apt-get install fluidsynth fluid-soundfont-gm``.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import wave
from typing import BinaryIO

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
PEAK_DBFS = -1.0
# FluidSynth's default gain (0.2) leaves a melody near -27 dBFS; rendering louder keeps more of the
# 16-bit resolution before the peak is normalised (a monophonic line stays far from clipping).
_FLUIDSYNTH_GAIN = "1.0"


def find_soundfont() -> str | None:
    """The first General MIDI soundfont found (``$FOLKGEN_SOUNDFONT`` first), or None."""
    candidates = [os.environ.get("FOLKGEN_SOUNDFONT", "")] + list(SOUNDFONT_PATHS)
    return next((path for path in candidates if path and os.path.isfile(path)), None)


def fluidsynth_soundfont() -> str | None:
    """The soundfont FluidSynth would use, or None when FluidSynth or a soundfont is missing."""
    return find_soundfont() if shutil.which("fluidsynth") else None


def synthesiser_name(soundfont: str | None) -> str:
    """``"fluidsynth (<soundfont file>)"`` when rendering with ``soundfont``, else ``"numpy"``."""
    return f"fluidsynth ({os.path.basename(soundfont)})" if soundfont else "numpy"


def synthesiser() -> str:
    """The synthesiser ``write_wav`` uses here (``synthesiser_name`` of ``fluidsynth_soundfont()``)."""
    return synthesiser_name(fluidsynth_soundfont())


def write_wav(events: list[Event], path: str, tempo_bpm: float, midi_path: str) -> str:
    """Writes ``path`` at a peak of ``PEAK_DBFS``; returns ``synthesiser()``.

    FluidSynth renders ``midi_path`` (the melody's MIDI file, 16-bit stereo); the NumPy
    synthesiser plays ``events`` (mono).
    """
    soundfont = fluidsynth_soundfont()
    if soundfont:
        channels, samples = render_fluidsynth(soundfont, midi_path, path, timeout_s=120)
        write_samples(path, normalise_peak(samples), channels)
    else:
        write_samples(path, synthesise(events, tempo_bpm), channels=1)
    return synthesiser_name(soundfont)


def render_fluidsynth(soundfont: str, midi_path: str, wav_path: str, timeout_s: float) -> tuple[int, np.ndarray]:
    """FluidSynth plays ``midi_path`` into ``wav_path``; returns ``read_wav(wav_path)``."""
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", _FLUIDSYNTH_GAIN, "-F", wav_path, "-r", str(SAMPLE_RATE),
                    soundfont, midi_path], check=True, capture_output=True, timeout=timeout_s)
    return read_wav(wav_path)


def read_wav(path: str) -> tuple[int, np.ndarray]:
    """A 16-bit PCM WAV -> (channels, float32 samples in [-1, 1], interleaved ``[frames * channels]``)."""
    with wave.open(path, "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError(f"{path!r} holds {8 * handle.getsampwidth()}-bit samples; expected 16-bit PCM")
        channels = handle.getnchannels()
        frames = handle.readframes(handle.getnframes())
    return channels, np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768


def normalise_peak(samples: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """``samples`` scaled to a peak of ``peak_dbfs`` (silence unchanged)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples * (10 ** (peak_dbfs / 20) / peak) if peak > 0 else samples


def write_samples(target: str | BinaryIO, samples: np.ndarray, channels: int) -> None:
    """Float samples in [-1, 1] (interleaved ``[frames * channels]``) -> a 16-bit PCM WAV at ``target``
    (a path or a binary file object)."""
    with wave.open(target, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes())


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
    return normalise_peak(audio)


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
