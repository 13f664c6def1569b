"""The music layer: pure Python (no TensorFlow, Beam or music21 at import), imported by every package."""
