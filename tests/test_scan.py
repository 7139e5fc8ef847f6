"""Bulk scans (`assetscreen scan`, service/scan.py): robustness against hostile folders, worker processes, the
resumable ledger (kill -9 included), incomplete verdicts redone, inputs (folders, lists, exported posts), outputs
(CSV, store, write failures) and the progress bar. Fake detectors keep it fast; the real pipeline has
tests/test_scan_parallel.py and tests/test_scan_video.py.

The worker processes rebuild the pipeline by name, so the factories and detectors they need live at module level
here (`tests.test_scan:echo_screener`).
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import tests.fakes  # noqa: F401  (registers the fake detectors)
from detectors.base import ImageContext, register_detector
from detectors.errors import DetectorUnavailable
from detectors.evidence import Evidence
from service.scan import (
    InProcessEngine,
    ProcessEngine,
    Progress,
    ScanOptions,
    ScanOutputError,
    pipeline_spec,
    run_scan,
)
from service.scan_inputs import collect, terminal_safe
from service.screener import Screener
from service.settings import Settings
from tests.fakes import EchoRecognizer
from tests.imagegen import encode, gradient, red_patch_jpeg

ROOT = Path(__file__).resolve().parent.parent
ECHO = "tests.test_scan:echo_screener"
SLOW_S = float(os.environ.get("SCAN_TEST_SLOW_S", "0.25"))


# --- pipeline parts the worker processes rebuild by name ------------------------------------------------------


def echo_screener(settings: Settings) -> Screener:
    """The fake detectors with the fake learned stage (echoes cue evidence), as tests/test_cli.py uses."""
    return Screener(settings, recognizer=EchoRecognizer())


class SlowDetector:
    """Takes SLOW_S per image, so a scan lasts long enough to be killed in the middle."""

    name = "scan_slow"
    version = "1"
    produces = frozenset({"uniform"})

    def detect(self, ctx: ImageContext) -> list[Evidence]:
        time.sleep(SLOW_S)
        return []


@register_detector("scan_slow")
def _slow(settings: Any) -> SlowDetector:
    return SlowDetector()


@register_detector("scan_unavailable")
def _unavailable(settings: Any) -> SlowDetector:
    raise DetectorUnavailable("scan_unavailable", "the package it needs is not installed (pip install it)")


def scan_main(argv: list[str]) -> int:
    """`python -c` entry for the kill -9 test: scan FOLDER into OUT with 2 worker processes (slow fakes)."""
    folder, out = argv
    spec = pipeline_spec(Settings(detectors=["fake_red", "scan_slow"]), ECHO)
    assert spec is not None
    engine = ProcessEngine(spec, 2)
    try:
        run_scan([folder], ScanOptions(out=Path(out)), engine)
    finally:
        engine.close()
    return 0


# --- helpers --------------------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def strip_timings(rec: dict[str, Any]) -> dict[str, Any]:
    rec = json.loads(json.dumps(rec))
    if "verdict" in rec:
        rec["verdict"].pop("timings_ms")
    return rec


def red_png(seed: int = 0) -> bytes:
    a = np.full((150, 200, 3), 200 + seed % 50, np.uint8)
    a[30 + seed % 20:70 + seed % 20, 40:110] = (255, 0, 0)
    return encode(Image.fromarray(a), "PNG")


def plain_jpg(seed: int = 0) -> bytes:
    return encode(Image.fromarray(np.roll(gradient(220, 160), seed, axis=1)), "JPEG")


def type_error_tiff() -> bytes:
    """A TIFF whose StripOffsets tag claims type DOUBLE: Pillow raises TypeError ('float' object cannot be
    interpreted as an integer) while loading it."""
    buf = bytearray(encode(Image.fromarray(gradient(16, 16)), "TIFF"))
    (ifd,) = struct.unpack_from("<I", buf, 4)
    (n,) = struct.unpack_from("<H", buf, ifd)
    for k in range(n):
        at = ifd + 2 + 12 * k
        if struct.unpack_from("<H", buf, at)[0] == 273:  # StripOffsets
            struct.pack_into("<H", buf, at + 2, 12)
            return bytes(buf)
    raise AssertionError("no StripOffsets tag")


def mixed_folder(d: Path, n_red: int = 4, n_plain: int = 4) -> Path:
    (d / "sub").mkdir(parents=True)
    for i in range(n_red):
        (d / ("sub" if i % 2 else "") / f"red{i}.png").write_bytes(red_png(i))
    for i in range(n_plain):
        (d / f"plain{i}.jpg").write_bytes(plain_jpg(i))
    (d / "broken.jpg").write_bytes(plain_jpg()[:300])
    return d


def echo_engine(*detectors: str) -> InProcessEngine:
    return InProcessEngine(echo_screener(Settings(detectors=list(detectors or ["fake_red"]))))


def hostile_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Every hazard of the issue in one folder; returns it and the ledger key each hazard must get."""
    root = tmp_path / "archive"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.png").write_bytes(red_png(9))
    (root / "good.png").write_bytes(red_patch_jpeg())
    (root / "unreadable.jpg").write_bytes(plain_jpg())
    os.chmod(root / "unreadable.jpg", 0)
    os.mkfifo(root / "pipe.jpg")
    (root / "corrupt.tif").write_bytes(type_error_tiff())
    os.symlink("loop.jpg", root / "loop.jpg")  # a link to itself: ELOOP
    os.symlink("..", root / "sub" / "up")  # a folder loop
    os.symlink(tmp_path / "outside" / "secret.png", root / "outside.png")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.png"), "wb") as fh:  # Latin-1, not UTF-8
        fh.write(plain_jpg(3))
    with open(os.path.join(os.fsencode(root), b"evil\x1b[2Jname.png"), "wb") as fh:
        fh.write(red_png(4))  # flagged, so a terminal lists it
    (root / "notes.txt").write_text("not media")
    keys = {
        "good": "good.png", "unreadable": "unreadable.jpg", "fifo": "pipe.jpg", "tiff": "corrupt.tif",
        "loop": "loop.jpg", "dirloop": "sub/up", "outside": "outside.png", "latin1": "caf\\xe9.png",
        "control": "evil\x1b[2Jname.png",
    }
    return root, keys


def _unprivileged() -> list[str]:
    """A command prefix under which chmod 000 makes a file unreadable: as root, drop the capabilities that
    bypass file permissions."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a chmod 000 file stays readable, so 'unreadable' can't be made")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


# --- robustness -----------------------------------------------------------------------------------------------


def test_hostile_folder_gives_one_line_each_and_exit_0(tmp_path: Path) -> None:
    root, keys = hostile_folder(tmp_path)
    out = tmp_path / "results.jsonl"
    code = "import sys, tests.test_scan; from service.cli import main; sys.exit(main(sys.argv[1:]))"
    cmd = [*_unprivileged(), sys.executable, "-c", code, "scan", str(root), "--out", str(out),
           "--workers", "2", "--detectors", "fake_red"]
    env = {**os.environ, "ASSETSCREEN_DATA": str(tmp_path / "data")}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    recs = read_jsonl(out)
    files = [r["file"] for r in recs]
    assert sorted(files) == sorted(keys.values()), files  # one line each, nothing else (notes.txt)
    by = {r["file"]: r for r in recs}
    assert "verdict" in by[keys["good"]]
    assert by[keys["unreadable"]]["error_type"] == "BadInput" and "Permission denied" in by[keys["unreadable"]]["error"]
    assert by[keys["tiff"]]["error_type"] == "BadInput"
    assert by[keys["fifo"]]["skip_type"] == "NotRegularFile" and "FIFO" in by[keys["fifo"]]["skipped"]
    assert by[keys["loop"]]["skip_type"] == "SymlinkLoop"
    assert by[keys["dirloop"]]["skip_type"] == "SymlinkLoop"
    assert by[keys["outside"]]["skip_type"] == "SymlinkOutsideRoot"
    assert "verdict" in by[keys["latin1"]] and "verdict" in by[keys["control"]]
    stdout = proc.stdout.decode()
    assert "errors 2, skipped 4" in stdout and "screened 3" in stdout
    # not a terminal: no progress bar, no per-file lines; nothing raw from a file name reaches the terminal
    assert "\r" not in proc.stderr.decode() and "\x1b" not in stdout + proc.stderr.decode()


def test_links_out_of_the_root_are_followed_when_asked(tmp_path: Path) -> None:
    root, keys = hostile_folder(tmp_path)
    os.chmod(root / "unreadable.jpg", 0o644)
    found = collect([root], follow_links=True)
    assert keys["outside"] in {i.key for i in found.items}
    assert keys["outside"] not in {line["file"] for line in found.lines}


def test_progress_bar_on_a_terminal_escapes_names(tmp_path: Path) -> None:
    root, keys = hostile_folder(tmp_path)
    os.chmod(root / "unreadable.jpg", 0o644)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    summary = run_scan([root], ScanOptions(out=tmp_path / "r.jsonl", progress=Progress(stream)), echo_engine())
    shown = stream.getvalue()
    assert "9/9" in shown and "files/s" in shown and "ETA" in shown
    assert "evil\\x1b[2Jname.png" in shown and "\x1b[2J" not in shown  # the name's escape is shown, not run
    assert "REVIEW" in shown and "SKIPPED" in shown
    assert summary.screened == 4 and summary.skipped == 4 and summary.errors == 1
    assert terminal_safe("a\u202eb\x07") == "a\\u202eb\\x07"


def test_progress_is_quiet_when_not_a_terminal(tmp_path: Path) -> None:
    root = mixed_folder(tmp_path / "p")
    stream = io.StringIO()
    run_scan([root], ScanOptions(out=tmp_path / "r.jsonl", progress=Progress(stream)), echo_engine())
    assert stream.getvalue() == ""


# --- workers --------------------------------------------------------------------------------------------------


def test_two_worker_processes_give_the_sequential_verdicts(tmp_path: Path) -> None:
    root = mixed_folder(tmp_path / "p", n_red=5, n_plain=5)
    seq = run_scan([root], ScanOptions(out=tmp_path / "seq.jsonl"), echo_engine("fake_red", "fake_caption"))
    spec = pipeline_spec(Settings(detectors=["fake_red", "fake_caption"]), ECHO)
    assert spec is not None and "tests.fakes" in spec.modules
    engine = ProcessEngine(spec, 2)
    try:
        assert engine.threads == max(1, len(os.sched_getaffinity(0)) // 2)
        assert engine.spec.settings.yolo.threads == engine.spec.settings.ocr.threads == engine.threads
        par = run_scan([root], ScanOptions(out=tmp_path / "par.jsonl"), engine)
    finally:
        engine.close()
    a = {r["file"]: strip_timings(r) for r in read_jsonl(tmp_path / "seq.jsonl")}
    b = {r["file"]: strip_timings(r) for r in read_jsonl(tmp_path / "par.jsonl")}
    assert a == b and len(a) == 11
    assert list(a) == list(b)  # workers finish out of order; the finished output follows the inputs' order
    assert seq.decisions == par.decisions == {"review": 5, "clear": 5} and par.workers == 2


def test_a_worker_that_dies_costs_one_error_line(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    for i in range(6):
        (root / f"img{i}.png").write_bytes(red_png(i))
    (root / "img3.png").write_bytes(b"KILL" + red_png(3))  # the fake below kills its process on this one
    spec = pipeline_spec(Settings(detectors=["fake_red"]), "tests.test_scan:dying_screener")
    assert spec is not None
    engine = ProcessEngine(spec, 2)
    try:
        summary = run_scan([root], ScanOptions(out=tmp_path / "r.jsonl"), engine)
    finally:
        engine.close()
    by = {r["file"]: r for r in read_jsonl(tmp_path / "r.jsonl")}
    assert sorted(by) == [f"img{i}.png" for i in range(6)]
    assert by["img3.png"]["error_type"] == "WorkerCrashed" and "SIGKILL" in by["img3.png"]["error"]
    assert all("verdict" in by[f"img{i}.png"] for i in (0, 1, 2, 4, 5))  # the posts in flight beside it survive
    assert summary.screened == 5 and summary.errors == 1


def dying_screener(settings: Settings) -> Screener:
    """A pipeline whose process dies (SIGKILL) when asked to decode a file starting with b'KILL'."""
    import service.scan_post as scan_post

    original = scan_post.read_media

    def read(ref: str, max_bytes: int) -> bytes:
        data = original(ref, max_bytes)
        if data.startswith(b"KILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        return data

    scan_post.read_media = read  # this worker process only
    return echo_screener(settings)


# --- the ledger: resume, kill -9, incomplete verdicts ---------------------------------------------------------


def _live_in_group(pgid: int) -> list[int]:
    live = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(entry))
    return live


def test_kill_9_mid_scan_then_resume_screens_every_file_exactly_once(tmp_path: Path) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the scan's processes")
    root = tmp_path / "p"
    root.mkdir()
    names = [f"img{i:02d}.png" for i in range(16)]
    for i, name in enumerate(names):
        (root / name).write_bytes(red_png(i))
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-c", "import sys; from tests.test_scan import scan_main; sys.exit(scan_main(sys.argv[1:]))",
           str(root), str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 4:
                break
            assert proc.poll() is None, "the scan ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        written = out.read_bytes().count(b"\n")
        assert 4 <= written < len(names), written
        deadline = time.monotonic() + 20  # the workers notice their parent is gone and exit
        while _live_in_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _live_in_group(proc.pid) == []
    finally:
        for pid in _live_in_group(proc.pid):
            os.kill(pid, signal.SIGKILL)
    raw = out.read_bytes()
    before = [json.loads(x) for x in raw[: raw.rfind(b"\n") + 1].splitlines()]  # the lines written in full
    summary = run_scan([root], ScanOptions(out=out), echo_engine("fake_red"))
    recs = read_jsonl(out)
    assert sorted(r["file"] for r in recs) == names  # every file, exactly once
    assert summary.already == len(before) and summary.screened == len(names) - len(before)
    assert all(r in recs for r in before)  # nothing finished before the kill was lost or screened again


def test_a_line_cut_off_by_a_crash_is_dropped_and_redone(tmp_path: Path) -> None:
    root = mixed_folder(tmp_path / "p")
    out = tmp_path / "r.jsonl"
    run_scan([root], ScanOptions(out=out), echo_engine())
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    summary = run_scan([root], ScanOptions(out=out), echo_engine())
    assert summary.already == 3 and summary.screened + summary.errors == len(lines) - 3
    assert sorted(r["file"] for r in read_jsonl(out)) == sorted(json.loads(x)["file"] for x in lines)


def test_incomplete_verdicts_are_redone_once_the_pipeline_is_complete(tmp_path: Path) -> None:
    root = mixed_folder(tmp_path / "p", n_red=2, n_plain=2)
    out = tmp_path / "r.jsonl"
    first = run_scan([root], ScanOptions(out=out), echo_engine("fake_red", "scan_unavailable"))
    assert first.decisions == {"incomplete": 4} and len(first.incomplete) == 4
    assert "scan_unavailable unavailable" in first.text() and "INCOMPLETE" in first.text()
    again = run_scan([root], ScanOptions(out=out), echo_engine("fake_red", "scan_unavailable"))
    assert again.screened == 0 and again.redone == 0  # still incomplete here: nothing to gain by redoing
    complete = run_scan([root], ScanOptions(out=out), echo_engine("fake_red"))
    assert complete.redone == 4 and complete.screened == 4 and not complete.incomplete
    recs = read_jsonl(out)
    assert sorted(r["file"] for r in recs) == sorted({r["file"] for r in recs})
    assert {r["verdict"]["decision"] for r in recs if "verdict" in r} == {"review", "clear"}
    assert "INCOMPLETE" not in complete.text()


def test_cli_exit_code_3_when_the_output_holds_incomplete_verdicts(tmp_path: Path, monkeypatch, capsys) -> None:
    from service.cli import main

    monkeypatch.setattr("service.screener.build_recognizer", lambda settings: EchoRecognizer())
    root = mixed_folder(tmp_path / "p", n_red=1, n_plain=1)
    out = tmp_path / "r.jsonl"
    assert main(["scan", str(root), "--out", str(out), "--detectors", "fake_red,scan_unavailable", "-q"]) == 3
    assert "INCOMPLETE: 2 verdict(s)" in capsys.readouterr().out
    assert main(["scan", str(root), "--out", str(out), "--detectors", "fake_red", "-q"]) == 0


# --- inputs ---------------------------------------------------------------------------------------------------


def test_exported_posts_are_judged_with_their_captions(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.png").write_bytes(red_patch_jpeg())
    (media / "b.png").write_bytes(red_patch_jpeg())
    posts = tmp_path / "posts.jsonl"
    rows = [
        {"post_id": "p1", "caption": "so proud of my duty", "author": {"account_id": "fb:1"},
         "media_paths": ["media/a.png"], "url": "ignored"},
        {"post_id": "p2", "caption": "", "author": "fb:2", "media_paths": ["media/b.png"]},
        {"post_id": "p3", "caption": "proud day", "media_paths": []},
        {"post_id": "p4", "caption": "missing", "media_paths": ["media/none.png"]},
    ]
    posts.write_text("\n".join(json.dumps(r) for r in rows) + "\n[1, 2]\n", encoding="utf-8")
    out = tmp_path / "r.jsonl"
    run_scan([posts], ScanOptions(out=out), echo_engine("fake_red", "fake_caption"))
    by = {r["file"]: r for r in read_jsonl(out)}
    assert set(by) == {"p1", "p2", "p3", "p4", "posts.jsonl:5"}
    assert by["p1"]["verdict"]["decision"] == "violation" and by["p1"]["caption"] == "so proud of my duty"
    assert by["p2"]["verdict"]["decision"] == "review"  # the same image without the caption
    assert by["p3"]["verdict"]["decision"] != "clear" and by["p3"]["media"] == []
    assert by["p4"]["error_type"] == "BadInput" and "none.png" in by["p4"]["error"]
    assert by["posts.jsonl:5"]["error_type"] == "BadInput"
    assert by["p1"]["author"]["account_id"] == "fb:1"


def test_list_file_names_files_and_folders(tmp_path: Path) -> None:
    root = mixed_folder(tmp_path / "p", n_red=2, n_plain=1)
    lst = tmp_path / "list.txt"
    lst.write_text("# files to scan\np/plain0.jpg\n\np/sub\n" + str(root / "red0.png") + "\np/missing.png\n")
    out = tmp_path / "r.jsonl"
    run_scan([lst], ScanOptions(out=out), echo_engine())
    by = {r["file"]: r for r in read_jsonl(out)}
    assert set(by) == {"p/plain0.jpg", "p/sub/red1.png", str(root / "red0.png"), "p/missing.png"}
    assert by["p/missing.png"]["error_type"] == "BadInput"
    assert by["p/sub/red1.png"]["verdict"]["decision"] == "review"


def test_object_store_uris_are_read_through_pyarrow(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow reads object storage (it comes with ray[data])")
    root = mixed_folder(tmp_path / "p", n_red=2, n_plain=1)
    out = tmp_path / "r.jsonl"
    run_scan([f"file://{root}"], ScanOptions(out=out), echo_engine())
    by = {r["file"]: r for r in read_jsonl(out)}
    assert set(by) == {"red0.png", "sub/red1.png", "plain0.jpg", "broken.jpg"}
    assert by["red0.png"]["verdict"]["decision"] == "review" and by["broken.jpg"]["error_type"] == "BadInput"


# --- outputs --------------------------------------------------------------------------------------------------


def test_csv_rows_and_thumbnails(tmp_path: Path) -> None:
    import csv

    root = mixed_folder(tmp_path / "p", n_red=2, n_plain=2)
    (root / "=cmd().png").write_bytes(red_png(5))
    out = tmp_path / "r.jsonl"
    run_scan([root], ScanOptions(out=out, csv=tmp_path / "r.csv"), echo_engine())
    rows = {r["file"]: r for r in csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8"))}
    assert set(rows) == {"red0.png", "sub/red1.png", "plain0.jpg", "plain1.jpg", "broken.jpg", "'=cmd().png"}
    assert rows["red0.png"]["decision"] == "review" and rows["red0.png"]["kinds"] == "uniform"
    assert rows["red0.png"]["rules"] and rows["plain0.jpg"]["decision"] == "clear"
    assert rows["broken.jpg"]["status"] == "error"
    by = {r["file"]: r for r in read_jsonl(out)}
    thumb = by["red0.png"]["thumbnails"][0]
    assert thumb["image"] == 0 and thumb["src"].startswith("data:image/jpeg;base64,")
    assert "thumbnails" not in by["plain0.jpg"]


def test_unwritable_output_stops_with_a_clear_message_and_exit_74(tmp_path: Path, monkeypatch, capsys) -> None:
    from service.cli import main

    monkeypatch.setattr("service.screener.build_recognizer", lambda settings: EchoRecognizer())
    root = mixed_folder(tmp_path / "p", n_red=1, n_plain=1)
    (tmp_path / "file").write_text("x")
    assert main(["scan", str(root), "--out", str(tmp_path / "file" / "r.jsonl"), "--detectors", "fake_red"]) == 74
    err = capsys.readouterr().err
    assert err.startswith("error: cannot") and "Traceback" not in err
    assert main(["scan", str(root), "--out", str(tmp_path / "r.jsonl"), "--html", str(tmp_path / "file" / "r.html"),
                 "--detectors", "fake_red"]) == 74
    assert not (tmp_path / "r.jsonl").exists()  # refused before any screening


def test_full_disk_mid_scan_stops_keeping_what_was_written(tmp_path: Path, monkeypatch) -> None:
    import service.scan_ledger as ledger

    root = mixed_folder(tmp_path / "p")
    out = tmp_path / "r.jsonl"
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(ledger.os, "fsync", fsync)
    with pytest.raises(ScanOutputError, match="No space left on device") as err:
        run_scan([root], ScanOptions(out=out), echo_engine())
    assert err.value.exit_code == 74 and "run the same command to resume" in str(err.value)
    monkeypatch.setattr(ledger.os, "fsync", real_fsync)
    kept = [json.loads(x)["file"] for x in out.read_text().splitlines() if x.strip()]
    assert len(kept) >= 3
    summary = run_scan([root], ScanOptions(out=out), echo_engine())
    assert sorted(r["file"] for r in read_jsonl(out)) == sorted(set(r["file"] for r in read_jsonl(out)))
    assert summary.already >= 3 and summary.totals["files"] == 9


def test_results_go_to_the_store_once(tmp_path: Path) -> None:
    from service.scan import Keep
    from service.store import MemoryStore

    root = mixed_folder(tmp_path / "p", n_red=2, n_plain=1)
    store = MemoryStore()
    engine = InProcessEngine(echo_screener(Settings(detectors=["fake_red"])), Keep("flagged", embeddings=True))
    out = tmp_path / "r.jsonl"
    run_scan([root], ScanOptions(out=out, store=store), engine)
    results = store.list_results()
    assert len(results) == 3 and {r.source for r in results} == {"scan"}
    flagged = [r for r in results if r.decision == "review"]
    assert len(flagged) == 2 and all(store.get_image(r.id, 0, "evidence") for r in flagged)
    assert all(store.get_image(r.id, 0, "embedding") for r in results)
    assert all("_store" not in r for r in read_jsonl(out))
    # a crash between the store and the ledger: the file is screened again, the store keeps one result
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n")
    run_scan([root], ScanOptions(out=out, store=store), engine)
    assert len(store.list_results()) == 3
