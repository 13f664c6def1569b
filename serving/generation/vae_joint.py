"""Client side of the served joint melody VAE (model kind ``vae_melody``): one model for both codes.

Its ``encode``/``reconstruct`` take a tune's pitch codes, duration codes (event by event, padded
to L) and its length; ``decode``/``reconstruct``/``sample`` give both codes and a length, and
the melody is the first ``length`` events (``serving.contract.signatures``). ``JointVae`` offers
the calls of ``vae_melodies.VaePair`` over that one model.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from preprocessing.melody.events import Event
from preprocessing.melody.vae_codes import decode_vae, encode_notes, encode_rhythms
from serving.contract import signatures as sig
from serving.generation.vae import Tune, VaeInfo, VaeModel, fit_length, interpolate


@dataclass(frozen=True)
class MelodyRows:
    """Pitch codes and duration codes int32 [B, L], and the events kept per row int32 [B]."""

    notes: np.ndarray
    rhythms: np.ndarray
    lengths: np.ndarray

    def events(self, row: int) -> list[Event]:
        """Row ``row``'s first ``lengths[row]`` events."""
        kept = int(self.lengths[row])
        return decode_vae(self.notes[row, :kept].tolist(), self.rhythms[row, :kept].tolist())


class MelodyVaeModel(VaeModel):
    """A served melody VAE; every call takes and returns numpy arrays with a batch dimension."""

    def sample_rows(self, seeds: Sequence[int]) -> MelodyRows:
        """Seeds [B] -> the melodies decoded from z ~ N(0, I) drawn from each seed."""
        return _rows(self.client.predict(sig.SAMPLE, {sig.SEED: np.asarray(seeds, np.int32)}))

    def encode_rows(self, rows: MelodyRows) -> np.ndarray:
        """Melodies -> the posterior means float32 [B, Z]."""
        return np.asarray(self.client.predict(sig.ENCODE, _inputs(rows))[sig.MEAN], np.float32)

    def decode_rows(self, z: np.ndarray) -> MelodyRows:
        """Latents float32 [B, Z] -> melodies."""
        return _rows(self.client.predict(sig.DECODE, {sig.Z: np.asarray(z, np.float32)}))

    def reconstruct_rows(self, rows: MelodyRows) -> MelodyRows:
        """Melodies -> the melodies decoded from the encoder's means."""
        return _rows(self.client.predict(sig.RECONSTRUCT, _inputs(rows)))


def _inputs(rows: MelodyRows) -> dict[str, np.ndarray]:
    return {sig.NOTES: np.asarray(rows.notes, np.int32), sig.RHYTHMS: np.asarray(rows.rhythms, np.int32),
            sig.LENGTH: np.asarray(rows.lengths, np.int32)}


def _rows(outputs: dict[str, np.ndarray]) -> MelodyRows:
    return MelodyRows(np.asarray(outputs[sig.NOTES], np.int32), np.asarray(outputs[sig.RHYTHMS], np.int32),
                      np.asarray(outputs[sig.LENGTH], np.int32))


def tune_rows(tunes: Sequence[Tune], info: VaeInfo, overflow: str) -> MelodyRows:
    """Tunes -> their rows, each fitted to L events (``vae_codes.fit_codes``: pad, truncate or refuse).

    EncodingError (a ValueError) names a pitch outside 50..97 or a duration the VAE cannot encode.
    """
    notes = [fit_length(encode_notes(tune.events), info.length, info.pad_code, overflow, tune.source) for tune in tunes]
    rhythms = [fit_length(encode_rhythms(tune.events), info.length, info.rhythm_pad_code, overflow, tune.source)
               for tune in tunes]
    lengths = [min(len(tune.events), info.length) for tune in tunes]
    return MelodyRows(np.asarray(notes, np.int32), np.asarray(rhythms, np.int32), np.asarray(lengths, np.int32))


@dataclass(frozen=True)
class JointVae:
    """The served melody VAE, checked to be of that kind, with the calls of ``vae_melodies.VaePair``."""

    model: MelodyVaeModel
    info: VaeInfo

    def sample_events(self, seeds: Sequence[int]) -> list[list[Event]]:
        """One melody per seed, cut at its decoded length."""
        rows = self.model.sample_rows(seeds)
        return [rows.events(row) for row in range(len(seeds))]

    def reconstruct_tune(self, tune: Tune, overflow: str) -> tuple[np.ndarray, np.ndarray, list[Event]]:
        """The tune's kept events: (notes right bool [kept], rhythms right bool [kept], the reconstruction's
        first ``kept`` events, so it lines up with the tune whatever length the model decoded)."""
        rows = tune_rows([tune], self.info, overflow)
        rebuilt = self.model.reconstruct_rows(rows)
        kept = int(rows.lengths[0])
        notes_right = rows.notes[0, :kept] == rebuilt.notes[0, :kept]
        rhythms_right = rows.rhythms[0, :kept] == rebuilt.rhythms[0, :kept]
        return notes_right, rhythms_right, decode_vae(rebuilt.notes[0, :kept].tolist(), rebuilt.rhythms[0, :kept].tolist())

    def interpolate_events(self, tunes: Sequence[Tune], steps: int, overflow: str) -> list[list[Event]]:
        """``steps`` melodies on the line between the two tunes' latent means, each cut at its length."""
        means = self.model.encode_rows(tune_rows(tunes, self.info, overflow))
        rows = self.model.decode_rows(interpolate(means[0], means[1], steps))
        return [rows.events(row) for row in range(steps)]


def joint_vae(client, role: str = "model") -> JointVae:
    """The melody VAE over ``client``; ValueError naming ``role`` when the model is of another kind."""
    model = MelodyVaeModel(client)
    return JointVae(model, model.require_kind(sig.VAE_MELODY, role))
