"""Training benchmark: the tutorial's one-target-per-window training vs many-to-many from TFRecords.

Same model (one-hot -> LSTM(256) -> Dropout -> Dense softmax), same data, side by side in one run,
each method in its own subprocess (so its peak memory is its own):

- ``tutorial``: songs joined with ``window`` delimiters between them, every sliding 64-step window
  built in memory as a NumPy one-hot array, the LSTM returning only the last step (one target
  per window);
- ``streaming``: ``trainer.token_models.data.window_batches`` (TFDS TFRecords streamed through tf.data),
  the LSTM returning every step (64 targets per window).

Both are scored the same way, every ``--eval-every`` seconds of training time (evaluation time
excluded): the weights are loaded into the many-to-many model and its NLL per step (nats) over
the validation windows is measured. The target is the validation NLL of a 5-gram trained on the
train split. Prints wall time to reach it, the speed-up, and each method's peak RSS.

    python bench/train.py --data data/erk [--quick]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def ngram_validation_nll(data_dir: str, max_songs: int, order: int = 5) -> float:
    """NLL per step (nats) on the validation stream (each song then one delimiter) of a 5-gram
    trained on the same training songs as the LSTMs (the first ``max_songs``)."""
    from trainer.token_models import data
    from trainer.token_models.ngram import NGramModel

    vocabulary = data.load_vocabulary(data_dir)
    train_songs, _ = data.load_song_arrays(data_dir, "train", vocabulary)
    ngram = NGramModel(vocabulary.size, order).fit(train_songs[:max_songs], vocabulary.delimiter_id)
    songs, _ = data.load_song_arrays(data_dir, "validation", vocabulary)
    total, steps = 0.0, 0
    for song in songs:
        framed = np.concatenate([song, [vocabulary.delimiter_id]])
        probs = ngram.song_distributions(framed, vocabulary.delimiter_id)
        total -= float(np.log(probs[np.arange(len(framed)), framed]).sum())
        steps += len(framed)
    return total / steps


def _tutorial_arrays(songs: list[np.ndarray], delimiter_id: int, window: int, vocab_size: int):
    """The tutorial's inputs ``[N, window, V]`` float32 one-hot and targets ``[N]``, all in memory."""
    import keras

    stream: list[int] = []
    for song in songs:
        stream.extend(song.tolist())
        stream.extend([delimiter_id] * window)
    stream_array = np.array(stream, dtype=np.int32)
    count = len(stream_array) - window
    starts = np.arange(count)[:, None] + np.arange(window)[None, :]
    inputs = keras.utils.to_categorical(stream_array[starts], vocab_size).astype("float32")
    return inputs, stream_array[window:]


def worker(method: str, data_dir: str, max_songs: int, target: float, max_seconds: float, eval_every: float) -> dict:
    """Trains with one method until the validation NLL reaches ``target``; returns the trace."""
    import keras
    import tensorflow as tf

    from trainer.token_models import data
    from trainer.token_models.builders import build_lstm_model
    from trainer.token_models.config import resolve_config

    config = resolve_config("lstm")
    vocabulary = data.load_vocabulary(data_dir)
    keras.utils.set_random_seed(0)
    scorer = build_lstm_model(config, vocabulary.size)
    scorer.compile(loss="sparse_categorical_crossentropy")
    val_batches = data.window_batches(data_dir, "validation", vocabulary, config, training=False).cache()

    if method == "tutorial":
        songs, _ = data.load_song_arrays(data_dir, "train", vocabulary)
        inputs, targets = _tutorial_arrays(songs[:max_songs], vocabulary.delimiter_id, config.window, vocabulary.size)
        one_hot = keras.Input(shape=(None, vocabulary.size))
        hidden = keras.layers.LSTM(config.units, use_cudnn=False)(one_hot)
        hidden = keras.layers.Dropout(config.dropout)(hidden)
        model = keras.Model(one_hot, keras.layers.Dense(vocabulary.size, activation="softmax")(hidden))
        train_data = tf.data.Dataset.from_tensor_slices((inputs, targets)).shuffle(len(targets)).batch(config.batch_size)
        extra = {"windows": int(len(targets)), "one_hot_bytes": int(inputs.nbytes)}
    else:
        model = build_lstm_model(config, vocabulary.size)
        train_data = data.window_batches(data_dir, "train", vocabulary, config, training=True)
        if max_songs < data.count_songs(data_dir, "train"):
            songs = data.song_tokens(data.song_symbols(data_dir, "train").take(max_songs), vocabulary)
            windows = data.windows(songs, config.window, vocabulary.delimiter_id)
            train_data = windows.shuffle(config.shuffle_windows).batch(config.batch_size).prefetch(tf.data.AUTOTUNE)
        extra = {}
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy")

    trace: list[tuple[float, float]] = []

    class Probe(keras.callbacks.Callback):
        """Scores the weights every ``eval_every`` seconds of training time; stops at the target."""

        def on_train_begin(self, logs=None):
            self.trained = 0.0
            self.next_eval = eval_every
            self.mark = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.trained += time.perf_counter() - self.mark
            if self.trained >= self.next_eval:
                self.next_eval = self.trained + eval_every
                scorer.set_weights(model.get_weights())
                trace.append((round(self.trained, 2), float(scorer.evaluate(val_batches, verbose=0))))
                print(f"{method}: {self.trained:7.1f}s val NLL {trace[-1][1]:.4f}", file=sys.stderr, flush=True)
                if trace[-1][1] <= target or self.trained >= max_seconds:
                    self.model.stop_training = True
            self.mark = time.perf_counter()

    model.fit(train_data.repeat(), steps_per_epoch=10**9, epochs=1, verbose=0, callbacks=[Probe()])
    reached = next((seconds for seconds, nll in trace if nll <= target), None)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "seconds_to_target": reached, "trace": trace, "peak_rss_mb": round(peak_rss_mb, 1), **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO_ROOT / "data" / "erk"))
    parser.add_argument("--quick", action="store_true", help="300 training songs, 6 minutes of training per method at most")
    parser.add_argument("--max-songs", type=int, default=10**9)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="training-time cap per method")
    parser.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between scorings")
    parser.add_argument("--worker", choices=("tutorial", "streaming"), help=argparse.SUPPRESS)
    parser.add_argument("--target", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.max_songs, args.max_seconds, args.eval_every = min(args.max_songs, 300), 360.0, 15.0
    if args.worker:
        result = worker(args.worker, args.data, args.max_songs, args.target, args.max_seconds, args.eval_every)
        print(json.dumps(result))
        return

    target = ngram_validation_nll(args.data, args.max_songs)
    print(f"5-gram validation NLL (target): {target:.4f} nats/step", flush=True)
    results = {}
    for method in ("streaming", "tutorial"):
        command = [sys.executable, __file__, "--worker", method, "--data", args.data, "--target", str(target),
                   "--max-songs", str(args.max_songs), "--max-seconds", str(args.max_seconds),
                   "--eval-every", str(args.eval_every)]
        process = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        results[method] = json.loads(process.stdout.strip().splitlines()[-1])
    for method, result in results.items():
        reached = result["seconds_to_target"]
        best = min(nll for _, nll in result["trace"])
        print(f"{method:10s} time to target: {reached if reached is not None else 'not reached'} s"
              f" (best val NLL {best:.4f}), peak RSS {result['peak_rss_mb']:.0f} MB"
              + (f", one-hot windows {result['one_hot_bytes'] / 2**20:.0f} MB" if "one_hot_bytes" in result else ""))
    fast, slow = results["streaming"]["seconds_to_target"], results["tutorial"]["seconds_to_target"]
    if fast and slow:
        print(f"speed-up (tutorial / streaming): {slow / fast:.1f}x")
    elif fast:
        capped = results["tutorial"]["trace"][-1][0]
        print(f"speed-up (tutorial / streaming): > {capped / fast:.1f}x (tutorial stopped at {capped:.0f} s without reaching it)")
    common = max(min(nll for _, nll in result["trace"]) for result in results.values())
    first = {m: next(t for t, nll in r["trace"] if nll <= common) for m, r in results.items()}
    print(f"time to the val NLL both reached ({common:.4f}): streaming {first['streaming']:.0f} s, "
          f"tutorial {first['tutorial']:.0f} s, ratio {first['tutorial'] / first['streaming']:.1f}x")
    print(json.dumps({"target_nll": target, **results}))


if __name__ == "__main__":
    main()
