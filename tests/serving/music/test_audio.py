"""WAV loudness: FluidSynth's output and the NumPy synthesiser's both peak at ``audio.PEAK_DBFS``."""
from __future__ import annotations

import numpy as np
import pytest

from preprocessing.melody.keys import parse_key, parse_meter
from serving.music import audio, render

# Three bars of 3/4 played twice: 9 quarters written, 18 played.
REPEATED = "X:1\nM:3/4\nL:1/8\nK:G\n|:G2 B2 d2|g4 d2|B6:|\n"


def _peak_dbfs(path: str) -> tuple[int, float, int]:
    channels, samples = audio.read_wav(path)
    return channels, float(20 * np.log10(np.abs(samples).max())), samples.size // channels


def test_numpy_wav_peaks_at_minus_1_dbfs_and_plays_the_repeat(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth on the PATH
    assert audio.synthesiser() == "numpy"
    paths = render.write_formats(render.melody_from_abc(REPEATED), ["wav"], str(tmp_path), "numpy")
    channels, peak, frames = _peak_dbfs(paths["wav"])
    assert channels == 1 and peak == pytest.approx(audio.PEAK_DBFS, abs=0.01)
    assert frames == 18 * 60 / render.DEFAULT_TEMPO_BPM * audio.SAMPLE_RATE


@pytest.mark.skipif(audio.synthesiser() == "numpy", reason="FluidSynth or a General MIDI soundfont is missing")
def test_fluidsynth_wav_peaks_at_minus_1_dbfs_and_plays_the_repeat(tmp_path):
    melody = render.melody_from_abc(REPEATED)
    paths = render.write_formats(melody, ["mid", "wav"], str(tmp_path), "fluid", tempo_bpm=144)
    channels, peak, frames = _peak_dbfs(paths["wav"])
    assert channels == 2 and peak == pytest.approx(audio.PEAK_DBFS, abs=0.01)
    played = 18 * 60 / 144
    assert played <= frames / audio.SAMPLE_RATE <= played + 3.0  # the last note rings on


def test_timestep_melody_wav_is_its_length(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    melody = render.melody_from_timesteps("60 _ _ _ 64 _ 67 _".split(), 0, parse_key("C"), parse_meter("4/4"))
    paths = render.write_formats(melody, ["wav"], str(tmp_path), "steps")
    assert _peak_dbfs(paths["wav"])[2] == 2 * 60 / render.DEFAULT_TEMPO_BPM * audio.SAMPLE_RATE
