"""What every export promises: signature names, their input and output names, and model kinds.

Token language models (timestep symbols or ABC characters) export ``vocabulary``, ``step`` and
``generate`` (also ``serving_default``); VAEs export ``info``, ``encode``, ``decode``,
``reconstruct`` and ``sample`` (also ``serving_default``). Shapes: ``B`` batch, ``V`` vocabulary,
``S`` recurrent state, ``P`` primer width, ``T`` steps, ``L`` VAE length, ``Z`` latent size.
"""
from __future__ import annotations

DEFAULT_SIGNATURE = "serving_default"

# --- model kinds: stated by every export, so the client picks a codec without guessing
TOKEN_TIMESTEP = "token_timestep"  # the seeds' 16th-note symbols (pitch numbers, "_", "r", "/")
TOKEN_CHARACTERS = "token_characters"  # one ABC character per token
VAE_NOTES = "vae_notes"
VAE_RHYTHMS = "vae_rhythms"
VAE_MELODY = "vae_melody"  # the joint VAE: (pitch, duration) events and the length together
TOKEN_KINDS = (TOKEN_TIMESTEP, TOKEN_CHARACTERS)
VAE_KINDS = (VAE_NOTES, VAE_RHYTHMS, VAE_MELODY)
MODEL_KINDS = TOKEN_KINDS + VAE_KINDS

# --- token models
VOCABULARY = "vocabulary"  # () -> SYMBOLS string [V], MODEL_KIND string [] (and CONDITIONING string [C])
STEP = "step"  # TOKEN int32 [B], STATE float32 [B, S] (and the CONDITIONING inputs) -> LOGITS float32 [B, V], STATE [B, S]
GENERATE = "generate"  # the GENERATE_INPUTS [B] (PRIMER [B, P]) -> TOKENS int32 [B, T], -1 padded
TOKEN_SIGNATURES = (VOCABULARY, STEP, GENERATE)
# Optional: () -> INDEX string [], the training split's tunes as preprocessing.melody.novelty's
# TrainingIndex bytes (exports made before it, or without a data folder, lack it).
TRAINING_INDEX = "training_index"
INDEX = "index"

SYMBOLS = "symbols"
MODEL_KIND = "model_kind"
TOKEN = "token"
STATE = "state"
LOGITS = "logits"
TOKENS = "tokens"
PRIMER = "primer"
PRIMER_LENGTH = "primer_length"
STEPS = "steps"
TEMPERATURE = "temperature"
TOP_K = "top_k"
TOP_P = "top_p"
SEED = "seed"
# generate's decode-time rules per row (serving/contract/bar_rules.py); STEPS_PER_BAR 0: none
STEPS_PER_BAR = "steps_per_bar"  # int32 [B]
BEAT_STEPS = "beat_steps"  # int32 [B]
MIN_BARS = "min_bars"  # int32 [B]
MAX_BARS = "max_bars"  # int32 [B]
ALLOWED = "allowed"  # bool [B, V]: the pitch tokens that may be struck
TONIC = "tonic"  # bool [B, V]: the tonic's pitch tokens
END_ON_TONIC = "end_on_tonic"  # bool [B]
RULE_INPUTS = (STEPS_PER_BAR, BEAT_STEPS, MIN_BARS, MAX_BARS, ALLOWED, TONIC, END_ON_TONIC)
GENERATE_INPUTS = (PRIMER, PRIMER_LENGTH, STEPS, TEMPERATURE, TOP_K, TOP_P, SEED) + RULE_INPUTS

# A meter-aware timestep model (serving/contract/bar_position.py) states, in `vocabulary`'s
# CONDITIONING output, the extra inputs its `step` takes (models without it take none). Each is
# int32 [B] and describes the step whose symbol the logits predict (the tune's step after TOKEN).
CONDITIONING = "conditioning"
BAR_POSITION = "bar_position"  # 16th steps since that step's bar began (0: a downbeat)
METER_INDEX = "meter_index"  # bar_position.METERS index of the tune's meter (len(METERS): another)
MODE_INDEX = "mode_index"  # bar_position.MODES index of the key's mode
BARS_LEFT = "bars_left"  # bars from that step to the tune's end, rounded up; -1: no length requested
STEP_CONDITIONING = (BAR_POSITION, METER_INDEX, MODE_INDEX, BARS_LEFT)
# ... and its `generate` takes these beside GENERATE_INPUTS, each int32 [B]: the position in the
# bar is counted in the graph from the steps fed since the primer's last end symbol.
BAR_STEPS = "bar_steps"  # 16th steps per bar of the tune's meter (>= 1)
PICKUP = "pickup"  # steps the tune sounds before its first downbeat (0..bar_steps - 1)
BARS = "bars"  # the tune's requested length in bars (it ends BARS * BAR_STEPS steps in); -1: none
GENERATE_CONDITIONING = (BAR_STEPS, PICKUP, METER_INDEX, MODE_INDEX, BARS)
# Optional, on a meter-aware model: () -> BAR_STEPS, PICKUP, METER_INDEX, BARS int32 [N], the frame
# of each of the N training tunes (BARS: its full bars after the pickup, rounded up). A request
# that names no length (or, for a primer without notes, no pickup) draws one tune's per seed.
TUNE_FRAMES = "tune_frames"
TUNE_FRAME_OUTPUTS = (BAR_STEPS, PICKUP, METER_INDEX, BARS)
# Beside them, optional (older exports ship none): int [sum of BARS], every tune's bars in turn, each the
# first earlier bar of its tune whose steps it repeats exactly, or -1.
BAR_REPEATS = "bar_repeats"

# --- VAEs
INFO = "info"  # () -> KIND, OUTPUT, LENGTH, LATENT_DIM, ALPHABET int32 [C], PAD_CODE
ENCODE = "encode"  # CODES int32 [B, L] -> MEAN, LOGVAR float32 [B, Z]
DECODE = "decode"  # Z float32 [B, Z] -> CODES int32 [B, L] and VALUES [B, L] or PROBABILITIES [B, L, C]
RECONSTRUCT = "reconstruct"  # CODES [B, L] -> as DECODE, from the encoder's mean
SAMPLE = "sample"  # SEED int32 [B] -> as DECODE, plus Z
VAE_SIGNATURES = (INFO, ENCODE, DECODE, RECONSTRUCT, SAMPLE)

KIND = "kind"  # "notes", "rhythms" or "melody": the VAE's model kind is "vae_" + this
OUTPUT = "output"
LENGTH = "length"
LATENT_DIM = "latent_dim"
ALPHABET = "alphabet"
PAD_CODE = "pad_code"
CODES = "codes"
Z = "z"
MEAN = "mean"
LOGVAR = "logvar"
VALUES = "values"
PROBABILITIES = "probabilities"

# --- the melody VAE (info KIND "melody"): ENCODE and RECONSTRUCT take NOTES, RHYTHMS int32 [B, L]
# and LENGTH int32 [B] (events kept, 1..L) instead of CODES; DECODE, RECONSTRUCT and SAMPLE give
# NOTES, RHYTHMS int32 [B, L] (pad codes from LENGTH on) and LENGTH int32 [B]. Its INFO adds
# RHYTHM_ALPHABET int32 [D] and RHYTHM_PAD_CODE; ALPHABET and PAD_CODE are the pitch codes'.
# The last dimension of its Z codes the length (interpolating z interpolates the length too).
NOTES = "notes"
RHYTHMS = "rhythms"
RHYTHM_ALPHABET = "rhythm_alphabet"
RHYTHM_PAD_CODE = "rhythm_pad_code"


def vae_model_kind(info_kind: str) -> str:
    """The model kind of a VAE whose ``info`` signature reports ``info_kind`` ("notes" -> "vae_notes")."""
    kind = f"vae_{info_kind}"
    if kind not in VAE_KINDS:
        raise ValueError(f"unknown VAE kind {info_kind!r}; expected one of {[k[4:] for k in VAE_KINDS]}")
    return kind
