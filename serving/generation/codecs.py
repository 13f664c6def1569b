"""One codec per token model kind: encode a primer, decode generated tokens into a melody.

The kind is the one the export states (``vocabulary``'s ``model_kind``, see
``serving.contract.signatures``); nothing is guessed from the vocabulary. A codec knows its
kind's primer (timestep symbols or ABC text), its default number of steps, how tokens become a
``render.Melody`` and how tokens that cannot be rendered are saved as text.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from preprocessing.melody.abc_text import first_abc_tune
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter
from preprocessing.melody.novelty import abc_note_keys, timestep_note_keys
from serving.client import ModelClient
from serving.contract import signatures as sig
from serving.generation import primers
from serving.generation.primers import PrimerSource
from serving.generation.request_defaults import (
    DEFAULT_ABC_PRIMER,
    DEFAULT_CHARACTER_STEPS,
    DEFAULT_PRIMER,
    DEFAULT_STEPS,
)
from serving.generation.token_model import TokenModel
from serving.generation.vae import VaeModel
from serving.music import render


@dataclass(frozen=True)
class TimestepCodec:
    """The seeds' 16th-note symbols (pitch numbers, ``_`` hold, ``r`` rest, ``/`` song start).

    Tokens that cannot be rendered are saved space-separated.
    """

    kind: str = sig.TOKEN_TIMESTEP
    default_steps: int = DEFAULT_STEPS

    def primer(self, source: PrimerSource | None) -> primers.TimestepPrimer:
        """The primer as symbols (a named / ABC / file primer moved to C major, after ``/``) with the
        key and meter it states; None: the named primer ``DEFAULT_PRIMER``."""
        return primers.timestep_primer(source or PrimerSource(name=DEFAULT_PRIMER))

    def melody(self, tokens: Sequence[str], primer_length: int, key: Key | None, meter: Meter | None,
               title: str) -> render.Melody:
        """Primer + sampled symbols -> the melody, in ``key`` (default C) and ``meter`` (default 4/4)."""
        return render.melody_from_timesteps(list(tokens), primer_length, key or C_MAJOR, meter or COMMON_TIME,
                                            title=title)

    def new_note_keys(self, tokens: Sequence[str], primer_length: int) -> list[str]:
        """The notes after the primer's as novelty keys (``preprocessing.melody.novelty``)."""
        primer, generated = render.timestep_tune(tokens, primer_length)
        return timestep_note_keys(primer + generated)[len(timestep_note_keys(primer)):]

    def tokens_text(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


@dataclass(frozen=True)
class CharacterCodec:
    """ABC text, one character per token.

    The tune ends at the first blank line or next ``X:`` it writes; tokens that cannot be rendered
    are saved as the text itself.
    """

    kind: str = sig.TOKEN_CHARACTERS
    default_steps: int = DEFAULT_CHARACTER_STEPS

    def primer_symbols(self, source: PrimerSource | None, key: Key = C_MAJOR, meter: Meter = COMMON_TIME) -> list[str]:
        """The primer as characters of ABC text (a named primer written in ``key`` and ``meter``, a
        music-file primer written as ABC; None: ``DEFAULT_ABC_PRIMER``, a header the request completes)."""
        return list(primers.abc_primer(source, key, meter) if source is not None else DEFAULT_ABC_PRIMER)

    def melody(self, tokens: Sequence[str], primer_length: int, key: Key | None, meter: Meter | None,
               title: str) -> render.Melody:
        """The first tune of the text (music21 parses it); ``key`` / ``meter`` default to the tune's."""
        return render.melody_from_abc(self._first_tune(tokens, primer_length), key, meter, title=title)

    def new_note_keys(self, tokens: Sequence[str], primer_length: int) -> list[str]:
        """The written notes after the primer's, in the first tune, as novelty keys."""
        primer_keys = abc_note_keys("".join(tokens[:primer_length]))
        return abc_note_keys(self._first_tune(tokens, primer_length))[len(primer_keys):]

    @staticmethod
    def _first_tune(tokens: Sequence[str], primer_length: int) -> str:
        """Primer + generated text up to the end of the first tune (the primer's own blank lines kept)."""
        primer_text = "".join(tokens[:primer_length])
        return first_abc_tune(primer_text + "".join(tokens[primer_length:]), search_from=len(primer_text))[0]

    def tokens_text(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


TokenCodec = TimestepCodec | CharacterCodec
CODECS: dict[str, TokenCodec] = {codec.kind: codec for codec in (TimestepCodec(), CharacterCodec())}


def codec_for(kind: str) -> TokenCodec:
    """The codec of a token model kind; ValueError naming an unknown kind."""
    if kind not in CODECS:
        raise ValueError(f"no codec for model kind {kind!r}; token model kinds: {', '.join(CODECS)}")
    return CODECS[kind]


def model_codec(model: TokenModel) -> TokenCodec:
    """The codec of the kind ``model``'s export states (MissingModelKindError when it states none)."""
    return codec_for(model.model_kind)


def stated_kind(client: ModelClient) -> str:
    """The model kind a served model states: a token model's ``model_kind``, a VAE's through ``info``.

    ClientError (MissingModelKindError) when a token model states none; ValueError for a model
    that is neither.
    """
    if sig.VOCABULARY in client.signatures:
        return TokenModel(client).model_kind
    if sig.INFO in client.signatures:
        return sig.vae_model_kind(VaeModel(client).info.kind)
    raise ValueError(f"model {client.model!r} has neither a {sig.VOCABULARY!r} nor an {sig.INFO!r} signature")
