"""The interface a UI or CLI subscribes to, to follow (and stop) training and tuning.

Pure Python: a page can subclass TrainingListener without importing TensorFlow.
Calls come from the thread that trains.
"""
from __future__ import annotations

import threading


class TrainingListener:
    """Override what you need. `logs` hold loss, accuracy and, at epoch end, val_loss, val_accuracy,
    learning_rate and seconds."""

    def on_run_begin(self, info: dict) -> None: ...

    def on_trial_begin(self, trial_id: str, hyperparameters: dict) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, epoch: int, batch: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_trial_end(self, trial_id: str, score: float | None) -> None: ...

    def on_measure_begin(self) -> None:
        """Training is over; the kept model is being read on PublicTest and PrivateTest."""

    def on_run_end(self, summary: dict) -> None: ...

    def message(self, text: str) -> None: ...


class CancelToken:
    """Set from any thread (or, given a multiprocessing Event, any process); training stops after the
    batch in progress."""

    def __init__(self, event=None) -> None:
        self._event = event or threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
