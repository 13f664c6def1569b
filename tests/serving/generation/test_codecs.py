"""The codec of a token model comes from the kind its export states, never from its vocabulary."""
from __future__ import annotations

import numpy as np
import pytest

from serving.client import ModelClient
from serving.contract import signatures as sig
from serving.generation import codecs
from serving.generation.primers import PrimerSource
from serving.generation.token_model import MissingModelKindError, TokenModel
from serving.generation.tokens import GenerationConfig, generate
from serving.tensors import Signature

# One-character symbols only: a guess from the vocabulary's shape would call this a character model.
SHORT_TIMESTEP_VOCABULARY = ["/", "_", "r", "7", "8", "9"]


class FakeClient(ModelClient):
    """A transport answering fixed outputs per signature (no server)."""

    def __init__(self, model: str, answers: dict[str, dict[str, np.ndarray]]) -> None:
        super().__init__("fake:0", model)
        self.answers = answers
        self.calls: list[str] = []

    def predict(self, signature, inputs, timeout_s=None):
        self.calls.append(signature)
        return self.answers[signature]

    def metadata(self):
        return {name: Signature({}, {}) for name in self.answers}


def token_client(symbols: list[str], kind: str | None, name: str = "tiny") -> FakeClient:
    outputs = {sig.SYMBOLS: np.array([symbol.encode() for symbol in symbols])}
    if kind is not None:
        outputs[sig.MODEL_KIND] = np.array(kind.encode())
    return FakeClient(name, {sig.VOCABULARY: outputs, sig.STEP: {}, sig.GENERATE: {}})


@pytest.mark.parametrize("kind, symbols, codec_type", [
    (sig.TOKEN_TIMESTEP, SHORT_TIMESTEP_VOCABULARY, codecs.TimestepCodec),
    (sig.TOKEN_CHARACTERS, list("X:1\nK:CDE |"), codecs.CharacterCodec),
    (sig.TOKEN_CHARACTERS, ["ab", "cd"], codecs.CharacterCodec),
])
def test_the_codec_is_the_one_of_the_stated_kind(kind, symbols, codec_type):
    model = TokenModel(token_client(symbols, kind))
    assert model.model_kind == kind
    assert isinstance(codecs.model_codec(model), codec_type)
    assert codecs.codec_for(kind).kind == kind


def test_the_kind_is_read_once():
    client = token_client(SHORT_TIMESTEP_VOCABULARY, sig.TOKEN_TIMESTEP)
    model = TokenModel(client)
    assert (model.model_kind, model.symbols, model.model_kind) == (sig.TOKEN_TIMESTEP, SHORT_TIMESTEP_VOCABULARY,
                                                                   sig.TOKEN_TIMESTEP)
    assert client.calls == [sig.VOCABULARY]


def test_an_export_without_model_kind_is_refused_naming_the_model(tmp_path):
    client = token_client(SHORT_TIMESTEP_VOCABULARY, None, name="lstm_old")
    with pytest.raises(MissingModelKindError, match=r"model 'lstm_old' does not state its model kind.*re-export it"):
        TokenModel(client).model_kind
    with pytest.raises(MissingModelKindError, match="'lstm_old'"):
        generate(client, GenerationConfig(primer=PrimerSource(name="twinkle"), out_dir=str(tmp_path)), "lstm_old")
    assert set(client.calls) == {sig.VOCABULARY}  # refused before any sampling
    assert not any(tmp_path.iterdir())


def test_an_unknown_kind_is_refused():
    with pytest.raises(MissingModelKindError, match="'vae_notes'"):
        TokenModel(token_client(SHORT_TIMESTEP_VOCABULARY, sig.VAE_NOTES)).model_kind
    with pytest.raises(ValueError, match="'chords'"):
        codecs.codec_for("chords")


def test_stated_kind_of_token_models_and_vaes():
    assert codecs.stated_kind(token_client(list("ab"), sig.TOKEN_CHARACTERS)) == sig.TOKEN_CHARACTERS
    info = {sig.KIND: np.array(b"rhythms"), sig.OUTPUT: np.array(b"categorical"), sig.LENGTH: np.array(4),
            sig.LATENT_DIM: np.array(2), sig.ALPHABET: np.arange(8), sig.PAD_CODE: np.array(7)}
    vae = FakeClient("vae_rhythms_tiny", {name: {} for name in sig.VAE_SIGNATURES} | {sig.INFO: info})
    assert codecs.stated_kind(vae) == sig.VAE_RHYTHMS
    with pytest.raises(ValueError, match="'other'"):
        codecs.stated_kind(FakeClient("other", {"predict": {}}))


def test_each_codec_decodes_and_saves_its_own_tokens():
    timestep, characters = codecs.TimestepCodec(), codecs.CharacterCodec()
    tokens = ["/", "60", "_", "_", "_", "62", "_", "_", "_"]
    melody = timestep.melody(tokens, 1, None, None, title="t")
    assert [(event.pitch, event.quarters) for event in melody.events] == [(60, 1.0), (62, 1.0)]
    assert timestep.tokens_text(tokens) == "/ 60 _ _ _ 62 _ _ _"
    text = "X:1\nL:1/4\nK:C\nCD|\n\nX:2\n"
    assert [event.pitch for event in characters.melody(list(text), 14, None, None, title="c").events] == [60, 62]
    assert characters.tokens_text(list(text)) == text
    assert (timestep.default_steps, characters.default_steps) == (codecs.DEFAULT_STEPS, codecs.DEFAULT_CHARACTER_STEPS)
