"""The ledger of a bulk scan: the JSONL output, one line per file, which is also what a resumed scan skips.

A line is appended with one `write` and fsynced before the file counts as done, so a crash or `kill -9` loses at
most the files in flight. A line cut off by a crash (or an older output with a file twice) makes `load` rewrite
the file; every rewrite goes through a temporary file, fsync and rename, so no crash leaves it half written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from detectors.errors import AssetScreenError
from service.scan_inputs import display_name


class ScanOutputError(AssetScreenError):
    """The results cannot be written (disk full, unwritable path, store down): the scan stops; what was written
    is kept and the same command resumes."""

    exit_code = 74  # sysexits EX_IOERR


def _encode(rec: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a caption: escaped JSON is still valid JSON
        return (json.dumps(rec, ensure_ascii=True) + "\n").encode("ascii")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Ledger:
    """The JSONL output: one line per file, appended with one write and fsynced; rewritten atomically (temporary
    file, fsync, rename) when a cut-off line or redone records must go."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def _fail(self, what: str, exc: OSError) -> ScanOutputError:
        reason = exc.strerror or str(exc)
        return ScanOutputError(
            f"cannot {what} {display_name(str(self.path))}: {reason}; the scan stopped. Results written so far are "
            "kept: fix it (free space, permissions, another --out) and run the same command to resume"
        )

    def load(self) -> dict[str, dict[str, Any]]:
        """The last record per file. A damaged line (an interrupted write) is dropped and the file rewritten."""
        if not self.path.exists():
            return {}
        if not self.path.is_file():
            raise ScanOutputError(f"{display_name(str(self.path))} is not a regular file; choose another --out")
        records: dict[str, dict[str, Any]] = {}
        damaged = duplicated = False
        try:
            with self.path.open("rb") as fh:
                for raw in fh:
                    try:
                        rec = json.loads(raw)
                    except ValueError:
                        damaged = True
                        continue
                    if not raw.endswith(b"\n") or not isinstance(rec, dict) or not isinstance(rec.get("file"), str):
                        damaged = True
                        continue
                    duplicated |= rec["file"] in records
                    records.pop(rec["file"], None)
                    records[rec["file"]] = rec
        except OSError as exc:
            raise self._fail("read", exc) from None
        if damaged or duplicated:
            self.rewrite(records.values())
        return records

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "wb") as fh:
                for rec in records:
                    fh.write(_encode(rec))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise self._fail("rewrite", exc) from None
        _fsync_dir(self.path.parent)
        if self._fd is not None:  # appends must go to the new file, not the one the rename replaced
            self.close()
            self.open()

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not self.path.is_file():
                raise ScanOutputError(f"{display_name(str(self.path))} is not a regular file; choose another --out")
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                               0o644)
        except OSError as exc:
            raise self._fail("open", exc) from None
        _fsync_dir(self.path.parent)

    def append(self, rec: dict[str, Any]) -> None:
        assert self._fd is not None, "Ledger.open() first"
        data = memoryview(_encode(rec))
        try:
            while data:
                n = os.write(self._fd, data)
                data = data[n:]
            os.fsync(self._fd)
        except OSError as exc:
            raise self._fail("write", exc) from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
