"""AssetScreen evidence layer: detectors that turn images and captions into `Evidence`, never verdicts."""

from detectors.evidence import Evidence, Kind, Post, PostImage, Verdict

__all__ = ["Evidence", "Kind", "Post", "PostImage", "Verdict"]
