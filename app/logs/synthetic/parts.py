"""What a scene is made of: containers' processes and their runs, the things they call, and how calls fail.

Plain data with a little arithmetic over time; ``scene`` holds them for one namespace and window, and
everything that writes lines reads them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.logs.synthetic.cluster import Container, Pod, Workload
from app.logs.synthetic.faults import CertDates, Err, Frame, Target

FOREVER = math.inf


@dataclass
class Run:
    """One process of a container: when it started, became ready and ended (``inf`` while running)."""

    start: float
    ready: float
    end: float = FOREVER
    graceful: bool = True
    # Start-up lines are written only when the start falls inside the window.
    quiet_start: bool = False
    # Whether the start-up lines of this run are evidence (a restart after an unclean stop).
    cite_start: bool = False


@dataclass
class Proc:
    """One container of one pod and its runs."""

    pod: Pod
    container: Container
    runs: list[Run]
    restarts: int = 0
    # The format writer of the container (an AppLogger, Postgres, Nginx ...; see ``components``).
    logger: Any = None
    # Times the kubelet's probes of a path get another answer than 200: (start, end, status, path);
    # status None means the request never reaches the process (a timeout, a wrong port).
    probe_answers: list[tuple[float, float, int | None, str]] = field(default_factory=list)
    # Times a failing readiness probe keeps it out of its Service's endpoints (it gets no requests).
    unready: list[tuple[float, float]] = field(default_factory=list)

    def probe_status(self, at_s: float, path: str) -> int | None:
        """The status a probe of ``path`` gets at ``at_s`` (None when the process never sees it)."""
        for start, end, status, probed in self.probe_answers:
            if start <= at_s < end and probed in (path, "*"):
                return status
        return 200

    @property
    def labels(self) -> dict[str, str]:
        """The container's stream labels."""
        return self.pod.labels(self.container)

    def running(self, at_s: float) -> bool:
        """Whether a process of this container runs at ``at_s``."""
        return any(run.start <= at_s < run.end for run in self.runs)

    def serving(self, at_s: float) -> bool:
        """Whether it is running and ready at ``at_s`` (and not taken out of its Service's endpoints)."""
        if any(start <= at_s < end for start, end in self.unready):
            return False
        return any(run.ready <= at_s < run.end for run in self.runs)

    def run_at(self, at_s: float) -> Run | None:
        """The run going on at ``at_s``."""
        return next((run for run in self.runs if run.start <= at_s < run.end), None)

    def last_run(self) -> Run:
        """The latest run."""
        return self.runs[-1]


@dataclass
class Outage:
    """A time when calls to a dependency fail with ``failure`` (for a ``share`` of the calls)."""

    start: float
    end: float
    failure: str
    share: float = 1.0
    evidence: bool = True
    cert: CertDates | None = None
    cited: int = 0


@dataclass
class Bug:
    """A code path that throws: requests to it fail with an exception (the code's fault, no dependency's)."""

    workload: str
    resource: str
    start: float
    end: float
    share: float
    # The exception this runtime raises there, and the app frames it passes through (innermost first).
    err: Callable[[Proc], Err]
    frames: Callable[[Proc], tuple[Frame, ...]]
    verb: str | None = None
    cited: int = 0


@dataclass
class Dep:
    """Something applications call: where it answers, who serves it, and when it fails."""

    name: str
    target: Target
    server: Workload | None = None
    outages: list[Outage] = field(default_factory=list)
    # Share of requests that call it (None: the usual share for its kind).
    use: float | None = None

    def failure_at(self, at_s: float, rng: random.Random, *, certain: bool = False) -> Outage | None:
        """The outage a call at ``at_s`` runs into, if any (``certain``: whatever the outage's share)."""
        for outage in self.outages:
            if outage.start <= at_s < outage.end and (certain or rng.random() < outage.share):
                return outage
        return None
