"""trainer.run_paths: flags, then Vertex AI's AIP_* variables, then folders under the job dir."""
import pytest

from trainer.run_paths import RunPaths


def test_output_paths_default_to_vertex_ai_variables():
    environ = {"AIP_MODEL_DIR": "gs://b/model", "AIP_CHECKPOINT_DIR": "gs://b/ckpt", "AIP_TENSORBOARD_LOG_DIR": "gs://b/tb"}
    paths = RunPaths.resolve(None, preset="lstm", environ=environ)
    assert (paths.export_path, paths.checkpoint_dir, paths.tensorboard_dir) == ("gs://b/model", "gs://b/ckpt", "gs://b/tb")
    local = RunPaths.resolve("runs/x", preset="lstm", export_path="out/m", environ={})
    assert (local.export_path, local.checkpoint_dir, local.tensorboard_dir) == ("out/m", "runs/x/checkpoints", "runs/x/logs")


def test_an_export_path_that_is_a_file_is_named(tmp_path):
    target = tmp_path / "model_file"
    target.write_text("x")
    RunPaths.resolve(str(tmp_path), preset="lstm", environ={}).check_export_path()  # no export: nothing to check
    with pytest.raises(ValueError, match=f"{target}.*is a file"):
        RunPaths.resolve(str(tmp_path), preset="lstm", export_path=str(target), environ={}).check_export_path()
