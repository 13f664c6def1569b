"""trainer.fitting: what a history CSV says about earlier epochs, for any monitored metric."""
import pytest

from trainer.fitting import FitPlan, PastEpochs, read_history
from trainer.run_paths import RunPaths


def test_history_is_read_for_the_monitored_metric(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,epoch_time_s,total_loss,val_total_loss\n0,1.5,9.0,8.0\n1,2.0,7.0,6.0\n2,2.5,6.5,7.0\n")
    past = read_history(str(path), "val_total_loss")
    assert past.monitored == (8.0, 6.0, 7.0) and past.seconds == pytest.approx(6.0) and past.epochs == 3
    assert (past.best_epoch, past.best_value, past.epochs_since_best) == (1, 6.0, 1)
    assert past.last == {"epoch_time_s": 2.5, "total_loss": 6.5, "val_total_loss": 7.0}
    without_validation = read_history(str(path), "val_loss")
    assert without_validation.monitored == () and without_validation.epochs == 3 and without_validation.best_epoch == -1


def test_no_history_is_an_empty_past(tmp_path):
    assert read_history(str(tmp_path / "none.csv"), "val_loss") == PastEpochs((), 0.0)


def test_checkpoint_names_follow_the_format():
    paths = RunPaths.resolve("job", preset="lstm", environ={})
    assert FitPlan("val_loss", 1, 1).checkpoint_path(paths, "best") == "job/checkpoints/best.keras"
    assert FitPlan("val_total_loss", 1, None, weights_only=True).checkpoint_path(paths, "last") == (
        "job/checkpoints/last.weights.h5")
