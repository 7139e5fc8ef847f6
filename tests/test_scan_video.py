"""Videos in a scan: frames sampled by time and by scene change, capped, each with its time; a generated 10-second
video that shows an official document from 4 s to 6 s is flagged by the real pipeline (the documents detector and
the shipped learned stage), with the document's time in the evidence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.synthetic_documents import plain_photo, render_page, scan
from service.media import decode_image, decode_video
from service.scan import InProcessEngine, ScanOptions, build_screener, run_scan
from service.settings import MediaLimits, Settings


def write_video(path: Path, seconds: float, fps: int, frame_at, size: tuple[int, int]) -> None:
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert out.isOpened(), "OpenCV cannot write mp4v here"
    for i in range(int(seconds * fps)):
        out.write(np.ascontiguousarray(frame_at(i / fps)[:, :, ::-1]))
    out.release()


def document_video(path: Path) -> None:
    """10 s at 10 fps, 1280x720: a street scene panning, then from 4 s to 6 s an official letter (Government of
    Sindh letterhead, file number, NOTIFICATION, stamp) filling the frame's height, then the scene again."""
    rng = np.random.default_rng(3)
    page, _ = render_page(rng, True)
    w, h = 1280, 720
    scene = cv2.resize(plain_photo(rng, (w, h)), (w, h))
    doc = scan(page, rng, size=h)[:h, :w]
    canvas = np.full((h, w, 3), 40, np.uint8)
    x0 = (w - doc.shape[1]) // 2
    canvas[: doc.shape[0], x0:x0 + doc.shape[1]] = doc
    write_video(path, 10, 10, lambda t: canvas if 4 <= t < 6 else np.roll(scene, int(t * 30), axis=1), (w, h))


def test_frames_by_time_and_scene_change_capped_with_their_times(tmp_path: Path) -> None:
    # 60 s at 4 fps: with a cap of 8, the time samples thin to every 8 s (0, 8, ... 56) and would miss a page shown
    # from 21 s to 23 s; the scene change catches it.
    def frame(t: float) -> np.ndarray:
        if 21 <= t < 23:
            return np.full((180, 320, 3), 245, np.uint8)
        a = np.zeros((180, 320, 3), np.uint8)
        a[:, :, 2] = 60 + int(t)  # a slow drift: no scene change
        return a

    p = tmp_path / "long.mp4"
    write_video(p, 60, 4, frame, (320, 180))
    media = decode_video(p.read_bytes(), MediaLimits(max_frames=8), "long.mp4")
    times = [f.time_s for f in media.frames]
    assert len(media.frames) == 8 and times == sorted(times) and times[0] == 0.0
    assert all(t is not None for t in times)
    page = [f for f in media.frames if f.rgb.mean() > 200]
    assert page and all(21 <= (f.time_s or 0) < 23 for f in page)
    assert [f.frame_index for f in media.frames] == [round((f.time_s or 0) * 4) for f in media.frames]
    assert max(times) > 40  # the time samples still span the video
    # through the ordinary entry point (what a scan and an upload call): the same frames
    again = decode_image(p.read_bytes(), MediaLimits(max_frames=8), "long.mp4")
    assert [f.time_s for f in again.frames] == times


def test_a_document_shown_for_two_seconds_is_flagged_at_its_time(tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    document_video(folder / "clip.mp4")
    screener = build_screener(Settings(detectors=["documents"]))
    if screener.recognizer is None:  # pragma: no cover - the shipped models are part of the package
        pytest.fail("the learned stage did not load")
    out = tmp_path / "r.jsonl"
    run_scan([folder], ScanOptions(out=out), InProcessEngine(screener))
    import json

    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    v = rec["verdict"]
    assert v["decision"] in ("review", "violation"), v["findings"]
    cited = [v["evidence"][i] for f in v["findings"] for i in f["evidence"]]
    assert cited and all("document" in e["kind"] for e in cited)
    for e in cited:
        assert 3.0 <= e["time_s"] <= 7.0, e  # the page is on screen from 4 s to 6 s (+-1 s)
    images = v["images"]
    assert len(images) <= 8 and all(im["time_s"] is not None for im in images)
    assert rec["thumbnails"] and all(3.0 <= t["time_s"] <= 7.0 for t in rec["thumbnails"])
    # the frames without the page carry no document evidence
    doc_frames = {e["image_index"] for e in v["evidence"] if "document" in e["kind"]}
    assert all(3.0 <= images[i]["time_s"] <= 7.0 for i in doc_frames)
