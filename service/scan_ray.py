"""Bulk scans beyond one machine: the same per-post function on Ray actors.

Each actor builds the pipeline once (as a local worker process does) and runs `service.scan_post.screen_item` on the
posts the driver hands it, two at a time, so a verdict on Ray is the verdict the local backends give. The driver
keeps the ledger, the reports and the store exactly as a local scan does, so resuming, `--csv`, `--html` and
`--store` work the same; actors only read media (local paths on storage every node mounts, or s3:// URIs, which
each actor reads itself through pyarrow) and return ledger lines.

`ray.init(address)` joins a cluster (`ray://head:10001`, `auto`, or RAY_ADDRESS); with no address a local Ray
instance is started and stopped with the scan. Every node needs this package installed (the same version), as the
actors import it; the README says how.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from detectors.errors import ConfigError
from service.scan_inputs import ScanItem, error_line
from service.scan_post import DEFAULT_FACTORY, NO_STORE, Keep, PipelineSpec, pipeline_spec, screen_item, sized_settings
from service.scan_workers import IN_FLIGHT_PER_WORKER, rebuild_error
from service.screener import Screener
from service.settings import Settings


class ScreenActor:
    """One pipeline in one Ray worker process (wrapped with `ray.remote` when the engine starts)."""

    def __init__(self, spec: PipelineSpec, keep: Keep, threads: int) -> None:
        import cv2

        cv2.setNumThreads(threads)
        self.keep = keep
        self.screener: Screener | None = None
        self.failed: tuple[str, str, int] | None = None
        try:
            self.screener = spec.build()
        except Exception as exc:  # noqa: BLE001 - said to the driver by ready(), which stops the scan with it
            self.failed = (type(exc).__name__, str(exc), int(getattr(exc, "exit_code", 1)))

    def ready(self) -> dict[str, Any]:
        if self.screener is None:
            return {"fatal": self.failed}
        return {"unavailable": [s.to_dict() for s in self.screener.detectors.unavailable]}

    def screen(self, item: ScanItem) -> dict[str, Any]:
        assert self.screener is not None
        return screen_item(self.screener, item, self.keep)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray backend needs Ray: pip install 'ray[data]'") from None
    return ray


class RayEngine:
    def __init__(self, ray: Any, spec: PipelineSpec, workers: int, threads: int, keep: Keep, started: bool) -> None:
        self.ray = ray
        self.spec = spec
        self.workers = workers
        self.threads = threads
        self.keep = keep
        self._started = started
        self._cls = ray.remote(num_cpus=threads)(ScreenActor)
        self.actors: list[Any] = []
        self.generation: list[int] = []
        try:
            self.actors = [self._new_actor() for _ in range(workers)]
            self.generation = [0] * workers
            answers = ray.get([a.ready.remote() for a in self.actors])
            for answer in answers:
                if "fatal" in answer:
                    raise rebuild_error(*answer["fatal"])
        except BaseException:
            self.close()
            raise
        self.unavailable: list[dict[str, Any]] = answers[0]["unavailable"]
        self.complete = not self.unavailable

    def _new_actor(self) -> Any:
        return self._cls.remote(self.spec, self.keep, self.threads)

    @classmethod
    def create(
        cls,
        settings: Settings,
        workers: int | None = None,
        *,
        address: str | None = None,
        keep: Keep = NO_STORE,
        factory: str = DEFAULT_FACTORY,
    ) -> RayEngine:
        """Join (or start) Ray and start `workers` actors (default: one per CPU of the cluster), each with
        max(1, CPUs // workers) threads for its models."""
        ray = _import_ray()
        spec = pipeline_spec(settings, factory)
        if spec is None:
            raise ConfigError("this pipeline holds parts made in this process only; Ray workers cannot rebuild it")
        started = not ray.is_initialized()
        if started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
            if not (address or os.environ.get("RAY_ADDRESS")):
                # a local instance: its workers find this checkout's modules (the package, tests' fakes) on the path
                paths = [p for p in sys.path if p and os.path.isdir(p)]
                kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join([os.getcwd(), *paths])}}
            ray.init(address=address, **kwargs)
        try:
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            n = max(1, min(workers or cpus, cpus))
            threads = max(1, cpus // n)
            sized = PipelineSpec(sized_settings(spec.settings, threads), spec.factory, spec.modules)
            return cls(ray, sized, n, threads, keep, started)
        except BaseException:
            if started:
                ray.shutdown()
            raise

    def run(self, items: Iterable[ScanItem]) -> Iterator[dict[str, Any]]:
        ray = self.ray
        source = iter(items)
        retry: list[ScanItem] = []
        inflight: dict[Any, tuple[int, int, ScanItem]] = {}  # ref -> (actor, generation, item)
        load = [0] * len(self.actors)

        def submit(a: int) -> None:
            while load[a] < IN_FLIGHT_PER_WORKER:
                item = retry.pop(0) if retry else next(source, None)
                if item is None:
                    return
                inflight[self.actors[a].screen.remote(item)] = (a, self.generation[a], item)
                load[a] += 1

        for a in range(len(self.actors)):
            submit(a)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1)
            ref = ready[0]
            a, gen, item = inflight.pop(ref)
            load[a] -= 1
            try:
                rec = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                if gen != self.generation[a]:
                    retry.append(item)  # queued on an actor that died on another post: screen it elsewhere
                    submit(a)
                    continue
                self.generation[a] += 1
                self.actors[a] = self._new_actor()
                rec = error_line(item.key, f"the Ray worker screening this file died ({type(exc).__name__}); "
                                 "the file was not screened", "WorkerCrashed")
            except ray.exceptions.RayTaskError as exc:
                rec = error_line(item.key, f"screening failed on Ray: {exc.cause!r}", "RayTaskError")
            yield rec
            submit(a)

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
