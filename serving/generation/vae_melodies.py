"""Melodies from served VAEs: sample, reconstruct, interpolate, and write them.

The library side of ``folkgen vae`` and of the demo. Either a pair of dense VAEs (``VaePair``):
one models the notes and the other the rhythms, position i of both makes event i of the melody,
and a melody ends at the first position where both are padding; or the joint melody VAE
(``vae_joint.JointVae``), whose melodies end at its decoded length. Both offer
``sample_events``, ``reconstruct_tune`` and ``interpolate_events``. Files are written as by
``folkgen generate`` (``serving.music.render``), in the settings' key and meter.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, transpose_events
from preprocessing.melody.vae_codes import check_overflow_policy
from serving.client import ModelClient
from serving.contract import signatures as sig
from serving.generation.output import check_output, prepare_out_dir
from serving.generation.vae import Tune, VaeInfo, VaeModel, interpolate, join_codes, read_tune, tune_codes
from serving.generation.vae_joint import JointVae
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

    def sample_events(self, seeds: Sequence[int]) -> list[list[Event]]:
        """One melody per seed (the same seed for both VAEs), up to both paddings."""
        notes, rhythms = self.notes.sample(seeds), self.rhythms.sample(seeds)
        return [self.melody_events(note_row, rhythm_row) for note_row, rhythm_row in zip(notes, rhythms)]

    def reconstruct_tune(self, tune: Tune, overflow: str) -> tuple[np.ndarray, np.ndarray, list[Event]]:
        """(notes right bool [kept], rhythms right bool [kept], the reconstruction's first ``kept`` events)."""
        note_row, rhythm_row, kept = tune_codes(tune, self.notes_info, self.rhythms_info, overflow)
        rebuilt_notes = self.notes.reconstruct(note_row[None])[0][:kept]
        rebuilt_rhythms = self.rhythms.reconstruct(rhythm_row[None])[0][:kept]
        return (note_row[:kept] == rebuilt_notes, rhythm_row[:kept] == rebuilt_rhythms,
                self.melody_events(rebuilt_notes, rebuilt_rhythms, False))

    def interpolate_events(self, tunes: Sequence[Tune], steps: int, overflow: str) -> list[list[Event]]:
        """``steps`` melodies on the lines between the two tunes' latent means (one line per VAE)."""
        rows = [tune_codes(tune, self.notes_info, self.rhythms_info, overflow) for tune in tunes]
        note_means = self.notes.encode(np.stack([row[0] for row in rows]))
        rhythm_means = self.rhythms.encode(np.stack([row[1] for row in rows]))
        notes = self.notes.decode(interpolate(note_means[0], note_means[1], steps))
        rhythms = self.rhythms.decode(interpolate(rhythm_means[0], rhythm_means[1], steps))
        return [self.melody_events(note_row, rhythm_row) for note_row, rhythm_row in zip(notes, rhythms)]


Melodies = VaePair | JointVae  # what sample / reconstruct / interpolate_tunes take


def vae_pair(notes: ModelClient, rhythms: ModelClient,
             roles: tuple[str, str] = ("notes model", "rhythms model")) -> VaePair:
    """The pair over two clients; ValueError naming the role (``roles``) of a model of the wrong kind."""
    notes_model, rhythms_model = VaeModel(notes), VaeModel(rhythms)
    return VaePair(notes_model, rhythms_model, notes_model.require_kind(sig.VAE_NOTES, roles[0]),
                   rhythms_model.require_kind(sig.VAE_RHYTHMS, roles[1]))


def sample(pair: Melodies, num: int, seed: int, settings: VaeSettings) -> list[Rendered]:
    """``num`` melodies decoded from random latents, seeds ``seed .. seed + num - 1``."""
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    prepare_out_dir(settings.out_dir)
    seeds = [seed + index for index in range(num)]
    key, meter = settings.key or C_MAJOR, settings.meter or COMMON_TIME
    return [_render(f"vae_seed{row_seed}", events, key, meter, settings)
            for row_seed, events in zip(seeds, pair.sample_events(seeds))]


def reconstruct(pair: Melodies, path: str, settings: VaeSettings) -> tuple[list[Rendered], Agreement]:
    """The tune in ``path`` and its reconstruction (both its first ``kept`` events), and their agreement."""
    tune = read_tune(path)
    notes_right, rhythms_right, rebuilt = pair.reconstruct_tune(tune, settings.overflow)
    prepare_out_dir(settings.out_dir)
    kept = len(rebuilt)
    key, meter = settings.key or tune.key, settings.meter or tune.meter or COMMON_TIME
    stem = _stem(tune)
    # Both melodies keep the tune's first `kept` positions, so they line up event by event.
    rendered = [
        _render(f"{stem}_original", list(tune.events[:kept]), key, meter, settings),
        _render(f"{stem}_reconstruction", rebuilt, key, meter, settings),
    ]
    return rendered, Agreement(notes_right, rhythms_right)


def interpolate_tunes(pair: Melodies, start: str, end: str, steps: int, settings: VaeSettings) -> list[Rendered]:
    """``steps`` melodies on the line between the two tunes' latent means, both ends included."""
    if steps < 2:
        raise ValueError(f"--steps must be >= 2 to include both tunes, got {steps}")
    tunes = [read_tune(start), read_tune(end)]
    melodies = pair.interpolate_events(tunes, steps, settings.overflow)
    prepare_out_dir(settings.out_dir)
    key, meter = settings.key or tunes[0].key, settings.meter or tunes[0].meter or COMMON_TIME
    stem = f"{_stem(tunes[0])}_to_{_stem(tunes[1])}"
    return [_render(f"{stem}_step{step}", events, key, meter, settings) for step, events in enumerate(melodies)]


def _render(name: str, events: list[Event], key: Key, meter: Meter, settings: VaeSettings) -> Rendered:
    """Writes one melody (events in C major / A minor) in ``key``; a melody without notes is an error."""
    if not any(event.pitch is not None for event in events):
        return Rendered(name, events, error=f"no notes before the padding ({len(events)} events), nothing written")
    melody = render.Melody(tuple(transpose_events(events, key.semitones_from_c())), key, meter, name)
    return Rendered(name, events, render.write_formats(melody, settings.formats, settings.out_dir, name,
                                                       settings.tempo_bpm))


def _stem(tune: Tune) -> str:
    return os.path.splitext(os.path.basename(tune.source))[0]
