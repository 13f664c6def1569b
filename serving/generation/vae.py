"""Client side of the served dense VAEs: one model for the notes, one for the rhythms.

A VAE export answers ``info``, ``encode``, ``decode``, ``reconstruct`` and ``sample``
(``serving.contract.signatures``; its kind is ``info``'s ``kind``). ``VaeModel`` wraps a
``ModelClient`` with those calls; the functions below turn tunes into fixed-length code rows and
code rows back into melodies, as the slides did: the note codes and the rhythm codes of one
position make one event, and the melody stops where both are padding (a rest of a whole note). ``L`` is the model's fixed length, ``Z`` its latent size.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from preprocessing.melody import music21_reader
from preprocessing.melody.events import Event
from preprocessing.melody.keys import Key, Meter, transpose_events
from preprocessing.melody.vae_codes import decode_vae, encode_notes, encode_rhythms, fit_codes
from serving.client import ServedModel
from serving.contract import signatures as sig
from serving.tensors import text_of

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class VaeInfo:
    """What a VAE's ``info`` signature says about it."""

    kind: str  # "notes", "rhythms" or "melody"; the model kind is sig.vae_model_kind(kind)
    output: str  # "sigmoid" or "categorical"
    length: int  # L
    latent_dim: int  # Z
    alphabet: tuple[int, ...]  # valid codes (a melody VAE's pitch codes)
    pad_code: int
    rhythm_alphabet: tuple[int, ...] = ()  # a melody VAE's duration codes (none for the others)
    rhythm_pad_code: int = -1


@dataclass(frozen=True)
class Tune:
    """A tune read from a file: its events moved to C major / A minor, and its own key and meter."""

    source: str
    events: tuple[Event, ...]
    key: Key
    meter: Meter | None


class VaeModel(ServedModel):
    """A served VAE; every call takes and returns numpy arrays with a batch dimension."""

    @cached_property
    def info(self) -> VaeInfo:
        """The model's ``info`` (cached); ValueError when the model is not a VAE."""
        missing = [name for name in sig.VAE_SIGNATURES if name not in self.client.signatures]
        if missing:
            raise ValueError(f"model {self.name!r} is not a VAE: it has no {', '.join(map(repr, missing))} "
                             f"signature (it has {', '.join(sorted(self.client.signatures)) or 'none'})")
        answer = self.client.predict(sig.INFO, {})
        return VaeInfo(kind=text_of(answer[sig.KIND]), output=text_of(answer[sig.OUTPUT]), length=int(answer[sig.LENGTH]),
                       latent_dim=int(answer[sig.LATENT_DIM]),
                       alphabet=tuple(int(code) for code in answer[sig.ALPHABET]), pad_code=int(answer[sig.PAD_CODE]),
                       rhythm_alphabet=tuple(int(code) for code in answer.get(sig.RHYTHM_ALPHABET, ())),
                       rhythm_pad_code=int(answer.get(sig.RHYTHM_PAD_CODE, -1)))

    @property
    def model_kind(self) -> str:
        """The model kind the export states (``sig.VAE_NOTES``, ``sig.VAE_RHYTHMS`` or ``sig.VAE_MELODY``)."""
        return sig.vae_model_kind(self.info.kind)

    def require_kind(self, model_kind: str, role: str) -> VaeInfo:
        """The info, or ValueError naming ``role`` (e.g. ``--notes-model``) when the model is of another kind."""
        if self.model_kind != model_kind:
            wanted = model_kind.removeprefix("vae_")
            raise ValueError(f"{role} {self.name!r} is a {self.info.kind} VAE; {role} needs a {wanted} VAE")
        return self.info

    def sample(self, seeds: Sequence[int]) -> np.ndarray:
        """Seeds [B] -> valid codes int32 [B, L] decoded from z ~ N(0, I) drawn from each seed."""
        return self._valid_codes(self.client.predict(sig.SAMPLE, {sig.SEED: np.asarray(seeds, np.int32)}))

    def encode(self, codes: np.ndarray) -> np.ndarray:
        """Codes int32 [B, L] -> the posterior means float32 [B, Z]."""
        outputs = self.client.predict(sig.ENCODE, {sig.CODES: np.asarray(codes, np.int32)})
        return np.asarray(outputs[sig.MEAN], np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Latents float32 [B, Z] -> valid codes int32 [B, L]."""
        return self._valid_codes(self.client.predict(sig.DECODE, {sig.Z: np.asarray(z, np.float32)}))

    def reconstruct(self, codes: np.ndarray) -> np.ndarray:
        """Codes int32 [B, L] -> valid codes int32 [B, L] decoded from the encoder's mean."""
        return self._valid_codes(self.client.predict(sig.RECONSTRUCT, {sig.CODES: np.asarray(codes, np.int32)}))

    def _valid_codes(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """Decoder outputs -> codes [B, L] in the alphabet.

        A sigmoid VAE's rounded codes may fall between valid ones (98 for notes): each position
        takes the valid code nearest to its de-normalised value instead.
        """
        codes = np.asarray(outputs[sig.CODES], np.int32)
        if self.info.output != "sigmoid":
            return codes
        alphabet = np.asarray(self.info.alphabet, np.float32)
        low, high = alphabet.min(), alphabet.max()
        values = np.asarray(outputs[sig.VALUES], np.float32) * (high - low) + low
        nearest = alphabet[np.argmin(np.abs(values[..., None] - alphabet), axis=-1)].astype(np.int32)
        moved = int(np.sum(nearest != codes))
        if moved:
            logger.info("%s: %d decoded codes outside the alphabet moved to the nearest valid code", self.name, moved)
        return nearest


def read_tune(path: str) -> Tune:
    """An ABC / MIDI / MusicXML file -> its melody in C major / A minor; ValueError naming the file."""
    if not os.path.isfile(path):
        raise ValueError(f"input file {path!r} does not exist")
    score = music21_reader.parse_music_file(path)
    events = music21_reader.melody_events(score, f"input file {path!r}")
    key = music21_reader.declared_key(score)
    return Tune(path, tuple(transpose_events(events, -key.semitones_from_c())), key, music21_reader.declared_meter(score))


def fit_length(codes: Sequence[int], length: int, pad_code: int, overflow: str, source: str) -> np.ndarray:
    """Codes [n] -> int32 [length], fitted to the VAE's length by ``vae_codes.fit_codes`` (pad with
    ``pad_code``, truncate or refuse)."""
    return np.asarray(fit_codes(codes, length, pad_code, overflow, source, limit=f"the VAE length {length}"), np.int32)


def tune_codes(tune: Tune, notes: VaeInfo, rhythms: VaeInfo, overflow: str) -> tuple[np.ndarray, np.ndarray, int]:
    """A tune -> (note codes int32 [L_notes], rhythm codes int32 [L_rhythms], events kept).

    EncodingError (a ValueError) names a pitch outside 50..97 or a duration the VAEs cannot encode.
    """
    note_row = fit_length(encode_notes(tune.events), notes.length, notes.pad_code, overflow, tune.source)
    rhythm_row = fit_length(encode_rhythms(tune.events), rhythms.length, rhythms.pad_code, overflow, tune.source)
    return note_row, rhythm_row, min(len(tune.events), notes.length, rhythms.length)


def join_codes(notes: np.ndarray, rhythms: np.ndarray, notes_pad: int, rhythms_pad: int,
               stop_at_padding: bool = True) -> list[Event]:
    """Note codes [L] and rhythm codes [L'] -> events, position by position (min(L, L') of them).

    With ``stop_at_padding`` the melody ends at the first position where both codes are padding.
    """
    pairs = list(zip(np.asarray(notes).tolist(), np.asarray(rhythms).tolist()))
    if stop_at_padding:
        end = next((i for i, (note, rhythm) in enumerate(pairs) if (note, rhythm) == (notes_pad, rhythms_pad)), len(pairs))
        pairs = pairs[:end]
    return decode_vae([note for note, _ in pairs], [rhythm for _, rhythm in pairs])


def interpolate(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """Latents [Z], [Z] -> [steps, Z] evenly spaced from ``start`` to ``end`` (both included)."""
    if steps < 2:
        raise ValueError(f"--steps must be >= 2 to include both tunes, got {steps}")
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1.0 - weights) * np.asarray(start, np.float32) + weights * np.asarray(end, np.float32)
