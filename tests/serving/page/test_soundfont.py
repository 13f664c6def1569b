"""The page's note samples: one WAV per (instrument, pitch), from the NumPy synthesiser and, where
installed, FluidSynth, each brought to ``NOTE_PEAK_DBFS`` by the audio module's peak rule."""
from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from serving.music import audio
from serving.page.soundfont import NOTE_PEAK_DBFS, NOTE_SECONDS, NoteSamples

pytestmark = pytest.mark.unit


def _read(body: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(body)) as handle:
        assert (handle.getnchannels(), handle.getsampwidth()) == (1, 2)
        return handle.getframerate(), np.frombuffer(handle.readframes(handle.getnframes()), "<i2") / 32768


@pytest.mark.parametrize("fluidsynth", [False, True])
def test_a_note_is_mono_three_seconds_at_the_note_peak(fluidsynth):
    samples = NoteSamples(fluidsynth=fluidsynth)
    if fluidsynth and samples.synthesiser == "numpy":
        pytest.skip("FluidSynth or a General MIDI soundfont is missing")
    assert samples.synthesiser == ("numpy" if not fluidsynth else audio.synthesiser())
    rate, wav = _read(samples.wav("violin", "A4"))
    assert rate == audio.SAMPLE_RATE and len(wav) == NOTE_SECONDS * audio.SAMPLE_RATE
    assert 20 * np.log10(np.abs(wav).max()) == pytest.approx(NOTE_PEAK_DBFS, abs=0.01)
    assert samples.wav("violin", "A4") is samples.wav("violin", "A4")  # rendered once, kept


def test_an_unknown_instrument_or_note_is_named():
    samples = NoteSamples(fluidsynth=False)
    with pytest.raises(ValueError, match="'banjo'"):
        samples.wav("banjo", "A4")
    with pytest.raises(ValueError, match="'H4'"):
        samples.wav("violin", "H4")
