"""Where a bulk scan screens: in this process, or in worker processes that each build the pipeline once.

`ProcessEngine` spawns `workers` processes (spawn: no state shared with the parent, nothing forked from a
process holding ONNX Runtime threads). Each builds its screener from the `PipelineSpec`, with max(1, cores //
workers) threads for its models, then screens what the parent sends over its pipe, decoding the next post while
the current one is screened (the parent keeps two in flight per worker). A worker that dies (a decoder's
segfault, the OOM killer) takes only the post it was screening: that post gets an error line, the others are
given to a fresh worker. Workers exit when the parent closes the pipe, or dies (`kill -9`): the pipe's end-of-file
tells them.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from detectors.errors import AssetScreenError
from service.scan_inputs import ScanItem, error_line
from service.scan_post import (
    NO_STORE,
    Decoded,
    Keep,
    PipelineSpec,
    decode_item,
    prefetched,
    screen_decoded,
    sized_settings,
    threads_per_worker,
)
from service.screener import Screener

IN_FLIGHT_PER_WORKER = 2  # one screened, one decoded meanwhile


class Engine(Protocol):
    complete: bool  # every configured detector can run (no verdict will be incomplete for that reason)
    unavailable: list[dict[str, Any]]
    workers: int

    def run(self, items: Iterable[ScanItem]) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class InProcessEngine:
    """Screens in this process with a screener built here; decoding runs one item ahead in a thread."""

    workers = 1

    def __init__(self, screener: Screener, keep: Keep = NO_STORE) -> None:
        self.screener = screener
        self.keep = keep
        self.unavailable = [s.to_dict() for s in screener.detectors.unavailable]
        self.complete = not self.unavailable

    def run(self, items: Iterable[ScanItem]) -> Iterator[dict[str, Any]]:
        for d in prefetched(items, self.screener.settings):
            yield screen_decoded(self.screener, d, self.keep)

    def close(self) -> None:
        pass


def _worker_main(conn: Any, spec: PipelineSpec, keep: Keep, threads: int) -> None:
    """A worker process: build the pipeline once, then screen what the parent sends, decoding the next item
    while the current one is screened. Exits when the parent closes the pipe or dies."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        import cv2

        cv2.setNumThreads(threads)
        screener = spec.build()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the scan with it
        conn.send(("fatal", type(exc).__name__, str(exc), getattr(exc, "exit_code", 1)))
        return
    statuses = [s.to_dict() for s in screener.detectors.unavailable]
    conn.send(("ready", {"unavailable": statuses}))
    decoded: queue.Queue[tuple[int, Decoded] | None] = queue.Queue(maxsize=1)

    def receive() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = None
            if msg is None:
                decoded.put(None)
                return
            seq, item = msg
            decoded.put((seq, decode_item(item, screener.settings)))

    threading.Thread(target=receive, name="scan-decode", daemon=True).start()
    while True:
        got = decoded.get()
        if got is None:
            return
        seq, d = got
        rec = screen_decoded(screener, d, keep)
        try:
            conn.send(("result", seq, rec))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Held:
    """A post sent to a worker; `alone`: it was in flight when a worker died, so it now runs with no other."""

    seq: int
    item: ScanItem
    alone: bool = False


def _exit_reason(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessEngine:
    """`workers` spawned processes, each with its own pipeline (models loaded once per worker). A worker that
    dies takes only the post it was screening with it (an error line); its other posts go to a fresh worker."""

    def __init__(self, spec: PipelineSpec, workers: int, keep: Keep = NO_STORE, *, total_cores: int | None = None):
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.workers = workers
        self.threads = threads_per_worker(workers, total_cores)
        self.spec = PipelineSpec(sized_settings(spec.settings, self.threads), spec.factory, spec.modules)
        self.keep = keep
        self.procs: dict[int, Any] = {}
        self.conns: dict[int, Any] = {}
        self._next_id = 0
        self.unavailable: list[dict[str, Any]] = []
        self.complete = True
        try:
            for _ in range(workers):
                self._start()
            for wid in list(self.procs):
                self._await_ready(wid)
        except BaseException:
            self.close()
            raise

    def _start(self) -> int:
        wid = self._next_id
        self._next_id += 1
        parent, child = self.ctx.Pipe(duplex=True)
        env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        try:
            for k in env:
                os.environ[k] = str(self.threads)
            p = self.ctx.Process(target=_worker_main, args=(child, self.spec, self.keep, self.threads),
                                 name=f"assetscreen-scan-{wid}", daemon=True)
            p.start()
        finally:
            for k, v in env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()
        self.procs[wid], self.conns[wid] = p, parent
        return wid

    def _await_ready(self, wid: int) -> None:
        conn, proc = self.conns[wid], self.procs[wid]
        from multiprocessing.connection import wait

        while True:
            wait([conn, proc.sentinel], timeout=5)
            if conn.poll():
                try:
                    msg = conn.recv()
                except EOFError:
                    msg = None
                if msg and msg[0] == "ready":
                    self.unavailable = msg[1]["unavailable"]
                    self.complete = not self.unavailable
                    return
                if msg and msg[0] == "fatal":
                    _, name, text, code = msg
                    raise rebuild_error(name, text, code)
            if not proc.is_alive() and not conn.poll():
                proc.join()
                raise AssetScreenError(f"a scan worker died while loading the pipeline ({_exit_reason(proc.exitcode)})")

    def run(self, items: Iterable[ScanItem]) -> Iterator[dict[str, Any]]:
        """Ledger lines as workers finish (not in input order). A worker that dies while holding one post gets
        that post an error line; one that held two (one screened, the next decoding) is ambiguous, so both are
        given again, each alone, to a fresh worker: only a post that kills a worker on its own is blamed."""
        from multiprocessing.connection import wait

        source = iter(items)
        retry: deque[_Held] = deque()
        held: dict[int, deque[_Held]] = {wid: deque() for wid in self.procs}
        seq = 0
        exhausted = False

        def feed(wid: int) -> None:
            nonlocal seq, exhausted
            mine = held[wid]
            while len(mine) < IN_FLIGHT_PER_WORKER and not (mine and mine[0].alone):
                if retry:
                    if mine:  # a suspect runs alone: wait until this worker is idle
                        return
                    entry = retry.popleft()
                else:
                    item = None if exhausted else next(source, None)
                    if item is None:
                        exhausted = True
                        return
                    seq += 1
                    entry = _Held(seq, item)
                self.conns[wid].send((entry.seq, entry.item))
                mine.append(entry)

        for wid in list(self.procs):
            feed(wid)
        while any(held.values()) or retry:
            by_obj = {**{self.conns[w]: w for w in held}, **{self.procs[w].sentinel: w for w in held}}
            for ready in wait(list(by_obj), timeout=5):
                wid = by_obj[ready]
                if wid not in held:
                    continue
                conn = self.conns[wid]
                eof = False
                while conn.poll():
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        eof = True
                        break
                    if msg[0] != "result":
                        continue
                    entry = held[wid].popleft()
                    if entry.seq != msg[1]:  # pragma: no cover - a worker answers in order
                        raise AssetScreenError("scan worker answered out of order")
                    yield msg[2]
                    feed(wid)
                if eof or not self.procs[wid].is_alive():
                    lost = held.pop(wid)
                    proc = self.procs.pop(wid)
                    proc.join()
                    self.conns.pop(wid).close()
                    if len(lost) == 1:
                        yield error_line(
                            lost[0].item.key,
                            f"the worker process screening this file died ({_exit_reason(proc.exitcode)}); "
                            "the file was not screened",
                            "WorkerCrashed",
                        )
                    else:
                        retry.extend(_Held(e.seq, e.item, alone=True) for e in lost)
                    if retry or not exhausted:
                        new = self._start()
                        self._await_ready(new)
                        held[new] = deque()
                        feed(new)
            for wid in held:  # workers idle while a suspect waited for a free one
                if not held[wid]:
                    feed(wid)

    def close(self) -> None:
        for conn in self.conns.values():
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5
        for p in self.procs.values():
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1)
        for conn in self.conns.values():
            conn.close()
        self.procs.clear()
        self.conns.clear()


def rebuild_error(name: str, text: str, code: int) -> AssetScreenError:
    import detectors.errors as errors

    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, AssetScreenError) and cls is not errors.DetectorUnavailable:
        return cls(text)
    err = AssetScreenError(f"a scan worker could not build the pipeline: {name}: {text}")
    err.exit_code = code if isinstance(code, int) and code > 0 else 1
    return err
