"""Collects a monophonic melody's events from a score's notes and rests, ties merged, gaps filled."""
from __future__ import annotations

from preprocessing.melody.events import Event, TuneError

TIME_TOLERANCE = 1e-6


class MelodyBuilder:
    """Collects a monophonic melody's events: tied notes merged into one event."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.events: list[Event] = []
        self.end = 0.0
        self._tie_open = False

    def add(self, pitch: int | None, quarters: float, tie: str | None) -> None:
        """Appends a note (or rest) that starts where the previous event ends."""
        if quarters <= 0:
            return
        last = self.events[-1] if self.events else None
        if self._tie_open and pitch is not None and last is not None and last.pitch == pitch and tie in (
                "continue", "stop"):
            self.events[-1] = Event(pitch, last.quarters + quarters)
        else:
            self.events.append(Event(pitch, quarters))
        self._tie_open = pitch is not None and tie in ("start", "continue")
        self.end += quarters

    def add_at(self, offset: float, pitch: int | None, quarters: float, tie: str | None, where: str,
               title: str) -> None:
        """Appends an event starting at ``offset``: a gap becomes a rest, an overlap a TuneError."""
        if quarters <= 0:
            return
        if offset < self.end - TIME_TOLERANCE:
            raise TuneError("overlapping_notes", f"event at {where} starts before the previous one ends "
                            f"({self.end:g}) in {self.source}: not monophonic", title)
        if offset > self.end + TIME_TOLERANCE:
            self.add(None, offset - self.end, None)
        self.add(pitch, quarters, tie)
