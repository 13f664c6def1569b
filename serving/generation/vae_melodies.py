"""Melodies from a served pair of dense VAEs: sample, reconstruct, interpolate, and write them.

The library side of ``folkgen vae`` and of the demo. One VAE models the notes and the other the
rhythms; position i of both makes event i of the melody. Files are written as by ``folkgen
generate`` (``serving.music.render``), in the settings' key and meter.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, transpose_events
from preprocessing.melody.vae_codes import check_overflow_policy
from serving.client import ModelClient
from serving.contract import signatures as sig
from serving.generation.output import check_output, prepare_out_dir
from serving.generation.vae import Tune, VaeInfo, VaeModel, interpolate, join_codes, read_tune, tune_codes
from serving.music import render


@dataclass(frozen=True)
class VaeSettings:
    """How the melodies are written: ``key`` / ``meter`` None keep C major and 4/4 for samples and
    the (first) input tune's for reconstructions and interpolations; ``overflow`` says what a tune
    longer than the VAE length gets (``vae_codes.OVERFLOW_POLICIES``)."""

    out_dir: str = "out/vae"
    formats: tuple[str, ...] = render.DEFAULT_FORMATS
    key: Key | None = None
    meter: Meter | None = None
    tempo_bpm: float = render.DEFAULT_TEMPO_BPM
    overflow: str = "truncate"

    def __post_init__(self) -> None:
        check_output(self.formats, self.tempo_bpm)
        check_overflow_policy(self.overflow)


@dataclass(frozen=True)
class Rendered:
    """One melody written (``paths``) or not (``error``)."""

    name: str
    events: list[Event]
    paths: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class Agreement:
    """A reconstruction against its tune, position by position: bool ``[kept]`` per feature."""

    notes: np.ndarray
    rhythms: np.ndarray

    @property
    def both(self) -> np.ndarray:
        return self.notes & self.rhythms


@dataclass(frozen=True)
class VaePair:
    """The served notes VAE and rhythms VAE, checked to be of those kinds."""

    notes: VaeModel
    rhythms: VaeModel
    notes_info: VaeInfo
    rhythms_info: VaeInfo

    def melody_events(self, notes: np.ndarray, rhythms: np.ndarray, stop_at_padding: bool = True) -> list[Event]:
        """Note codes [L] and rhythm codes [L'] -> events (up to both paddings, with ``stop_at_padding``)."""
        return join_codes(notes, rhythms, self.notes_info.pad_code, self.rhythms_info.pad_code, stop_at_padding)


def vae_pair(notes: ModelClient, rhythms: ModelClient,
             roles: tuple[str, str] = ("notes model", "rhythms model")) -> VaePair:
    """The pair over two clients; ValueError naming the role (``roles``) of a model of the wrong kind."""
    notes_model, rhythms_model = VaeModel(notes), VaeModel(rhythms)
    return VaePair(notes_model, rhythms_model, notes_model.require_kind(sig.VAE_NOTES, roles[0]),
                   rhythms_model.require_kind(sig.VAE_RHYTHMS, roles[1]))


def sample(pair: VaePair, num: int, seed: int, settings: VaeSettings) -> list[Rendered]:
    """``num`` melodies decoded from random latents, seeds ``seed .. seed + num - 1``."""
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    prepare_out_dir(settings.out_dir)
    seeds = [seed + index for index in range(num)]
    notes, rhythms = pair.notes.sample(seeds), pair.rhythms.sample(seeds)
    key, meter = settings.key or C_MAJOR, settings.meter or COMMON_TIME
    return [_render(f"vae_seed{row_seed}", pair.melody_events(note_row, rhythm_row), key, meter, settings)
            for row_seed, note_row, rhythm_row in zip(seeds, notes, rhythms)]


def reconstruct(pair: VaePair, path: str, settings: VaeSettings) -> tuple[list[Rendered], Agreement]:
    """The tune in ``path`` and its reconstruction (both its first ``kept`` events), and their agreement."""
    tune = read_tune(path)
    note_row, rhythm_row, kept = tune_codes(tune, pair.notes_info, pair.rhythms_info, settings.overflow)
    prepare_out_dir(settings.out_dir)
    rebuilt_notes = pair.notes.reconstruct(note_row[None])[0][:kept]
    rebuilt_rhythms = pair.rhythms.reconstruct(rhythm_row[None])[0][:kept]
    agreement = Agreement(note_row[:kept] == rebuilt_notes, rhythm_row[:kept] == rebuilt_rhythms)
    key, meter = settings.key or tune.key, settings.meter or tune.meter or COMMON_TIME
    stem = _stem(tune)
    # Both melodies keep the tune's first `kept` positions, so they line up event by event.
    rendered = [
        _render(f"{stem}_original", list(tune.events[:kept]), key, meter, settings),
        _render(f"{stem}_reconstruction", pair.melody_events(rebuilt_notes, rebuilt_rhythms, False), key, meter,
                settings),
    ]
    return rendered, agreement


def interpolate_tunes(pair: VaePair, start: str, end: str, steps: int, settings: VaeSettings) -> list[Rendered]:
    """``steps`` melodies on the line between the two tunes' latent means, both ends included."""
    tunes = [read_tune(start), read_tune(end)]
    rows = [tune_codes(tune, pair.notes_info, pair.rhythms_info, settings.overflow) for tune in tunes]
    prepare_out_dir(settings.out_dir)
    note_means = pair.notes.encode(np.stack([row[0] for row in rows]))
    rhythm_means = pair.rhythms.encode(np.stack([row[1] for row in rows]))
    notes = pair.notes.decode(interpolate(note_means[0], note_means[1], steps))
    rhythms = pair.rhythms.decode(interpolate(rhythm_means[0], rhythm_means[1], steps))
    key, meter = settings.key or tunes[0].key, settings.meter or tunes[0].meter or COMMON_TIME
    stem = f"{_stem(tunes[0])}_to_{_stem(tunes[1])}"
    return [_render(f"{stem}_step{step}", pair.melody_events(note_row, rhythm_row), key, meter, settings)
            for step, (note_row, rhythm_row) in enumerate(zip(notes, rhythms))]


def _render(name: str, events: list[Event], key: Key, meter: Meter, settings: VaeSettings) -> Rendered:
    """Writes one melody (events in C major / A minor) in ``key``; a melody without notes is an error."""
    if not any(event.pitch is not None for event in events):
        return Rendered(name, events, error=f"no notes before the padding ({len(events)} events), nothing written")
    melody = render.Melody(tuple(transpose_events(events, key.semitones_from_c())), key, meter, name)
    return Rendered(name, events, render.write_formats(melody, settings.formats, settings.out_dir, name,
                                                       settings.tempo_bpm))


def _stem(tune: Tune) -> str:
    return os.path.splitext(os.path.basename(tune.source))[0]
