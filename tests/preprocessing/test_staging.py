"""preprocessing.staging without Beam: the refusal, the leftovers of killed runs, and the move into place."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from preprocessing import schema, staging, tfds_output

USER_FILE = f"{schema.DATASET_NAME}-README.txt"  # a user's file that an older cleanup pattern took for a shard


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root``, by relative path, with its bytes."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def write_dataset(folder: Path, shards: int, tag: str, extra: tuple[str, ...] = ()) -> list[str]:
    """A stand-in for a job's files (shards, metadata, marker naming them and ``extra``); returns the names."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [tfds_output.shard_file_name("train", index, shards) for index in range(shards)]
    files += ["dataset_info.json", "features.json", schema.VOCABULARY_FILE, schema.STATS_FILE, *extra]
    for name in files:
        (folder / name).write_text(f"{tag} {name}")
    (folder / schema.COMPLETE_FILE).write_text(json.dumps({"files": files}))
    return files


def test_a_file_is_refused_naming_it(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match=f"^output '{a_file}' exists and is not a folder$"):
        staging.prepare_output(str(a_file))
    assert a_file.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_non_empty_folder_is_refused_without_overwrite_and_left_unchanged(tmp_path):
    output = tmp_path / "out"
    write_dataset(output, 4, "old")
    (output / USER_FILE).write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError) as refused:
        staging.prepare_output(str(output))
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"output '{output}' is not empty") and "--overwrite" in message
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_or_missing_folder_gets_a_sibling_temporary_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "missing"):
        temp = staging.prepare_output(str(tmp_path / name) + "/")
        assert temp.startswith(f"{tmp_path / name}.tmp-") and (Path(temp) / staging.IN_PROGRESS_FILE).is_file()
    assert not (tmp_path / "missing").exists()


def test_overwrite_replaces_the_earlier_run_files_and_keeps_the_others(tmp_path):
    output = tmp_path / "out"
    old_files = write_dataset(output, 4, "old", extra=("old_only.txt",))
    (output / USER_FILE).write_text("mine")
    (output / "notes").mkdir()
    (output / "notes" / "a.txt").write_text("mine too")
    temp = staging.prepare_output(str(output), overwrite=True)
    assert snapshot(output)[old_files[0]] == b"old " + old_files[0].encode()  # nothing removed before the commit
    new_files = write_dataset(Path(temp), 2, "new")
    (Path(temp) / schema.COMPLETE_FILE).unlink()
    moved = staging.commit(str(output), temp, {"corpus": "c"})
    assert moved == sorted(new_files)
    after = snapshot(output)
    assert after.pop(USER_FILE) == b"mine" and after.pop("notes/a.txt") == b"mine too"
    marker = json.loads(after.pop(schema.COMPLETE_FILE))
    assert marker["corpus"] == "c" and marker["files"] == sorted(new_files) and marker["completed"]
    assert after == {name: f"new {name}".encode() for name in new_files}  # old shards of 4 and old_only.txt gone
    assert not Path(temp).exists()


def test_a_missing_local_output_is_the_temporary_folder_renamed(tmp_path):
    temp = staging.prepare_output(str(tmp_path / "out"))
    files = write_dataset(Path(temp), 1, "new")
    staging.commit(str(tmp_path / "out"), temp, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(snapshot(tmp_path / "out")) == sorted([*files, schema.COMPLETE_FILE])


def test_leftovers_of_killed_runs_are_removed_and_nothing_else(tmp_path):
    output = tmp_path / "out"
    write_dataset(output, 1, "old")
    killed = Path(staging.prepare_output(str(output), overwrite=True))
    (killed / "half-written").write_text("x")
    beam_temp = output / f"beam-temp-{schema.DEAD_LETTERS_FILE}-0123abcd"
    beam_temp.mkdir()
    (beam_temp / "part").write_text("x")
    (output / ".tmp-shard-train-00003").write_text("x")  # a temporary shard of a run before the temporary folder
    not_ours = [tmp_path / "out.tmp-backup", tmp_path / "out.tmp-0123456789ab", output / "beam-temp-other"]
    for folder in not_ours:
        folder.mkdir()
        (folder / "keep").write_text("x")
    removed = staging.remove_leftovers(str(output))
    assert sorted(removed) == sorted(str(path) for path in (killed, beam_temp, output / ".tmp-shard-train-00003"))
    assert all((folder / "keep").exists() for folder in not_ours) and (output / schema.COMPLETE_FILE).exists()


def test_only_a_root_has_no_sibling():
    assert staging.normalise("gs://bucket/data/") == "gs://bucket/data" and staging.normalise("/") == "/"
    assert staging._has_sibling("gs://bucket/data") and not staging._has_sibling("gs://bucket")
    assert staging._has_sibling("data") and not staging._has_sibling("/")
