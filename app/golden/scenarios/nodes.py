"""``node_resource_pressure``: the node runs short of memory, disk or PIDs; pods are evicted or cannot fork.

From the namespace it shows as the kubelet's ``Evicted`` events ("The node was low on resource:
memory. ... Container x was using ..., request is ..."), the evicted pods stopping cleanly and being
replaced, replacement pods that wait because every node carries a pressure taint, and processes that
cannot write (``ENOSPC``) or start threads on a node out of disk or PIDs.
"""

from __future__ import annotations

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    api,
    failing_jobs,
    incident_start,
    main_procs,
    prepare_cron,
    want_api,
    want_store,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.cluster import Pod
from app.logs.synthetic.events import ObjectRef
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, fixed
from app.logs.synthetic.jobs import start_job_pod
from app.logs.synthetic.lifecycle import (
    crash_loop,
    create_pod,
    evict,
    reschedule_stateful_pod,
    schedule_failure_loop,
    start_container,
)
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.scene import Scene

scenario = scenarios_of("node_resource_pressure")


def _memory_message(scene: Scene, proc: Proc) -> str:
    limit = proc.container.memory_limit_mi
    using = int(limit * scene.rng.uniform(0.6, 0.95) * 1024)
    request = max(64, limit // scene.pick((2, 4)))
    available = scene.rng.randint(60_000, 99_000)
    return f"The node was low on resource: memory. Threshold quantity: 100Mi, available: {available}Ki. Container {proc.container.name} was using {using}Ki, request is {request}Mi, has larger consumption of memory. "


def _disk_message(scene: Scene, proc: Proc) -> str:
    using = scene.rng.randint(2_000_000, 9_000_000)
    return f"The node was low on resource: ephemeral-storage. Threshold quantity: {scene.rng.randint(2_000_000_000, 5_000_000_000)}, available: {scene.rng.randint(900_000, 1_900_000)}Ki. Container {proc.container.name} was using {using}Ki, request is 0, has larger consumption of ephemeral-storage. "


def _replace(scene: Scene, proc: Proc, at: float, *, pending: str | None) -> Pod:
    """The controller's replacement for an evicted pod: scheduled elsewhere, or waiting on taints."""
    workload = proc.pod.workload
    pod = create_pod(scene, workload, at, schedule=pending is None)
    if pending is not None:
        schedule_failure_loop(scene, pod, at + 0.3, pending, evidence=False)
    return pod


def _victims_on_node(scene: Scene, node: str, target_procs: list[Proc]) -> list[Proc]:
    """The target's pods, moved onto the node under pressure, plus other pods that run there."""
    for proc in target_procs:
        proc.pod.node = node
    others = [
        proc
        for proc in scene.procs
        if proc.pod.node == node
        and proc not in target_procs
        and proc.pod.workload.kind == "Deployment"
        and proc.container is proc.pod.workload.main
    ]
    return target_procs + others[: scene.rng.randint(0, 2)]


@scenario("node.memory_eviction", FAMILY_VARIANTS, prepare=want_api)
def memory_eviction(scene: Scene, family: str) -> Verdict:
    """A node runs low on memory: the kubelet evicts the pods using most above their request."""
    target = api(scene, family)
    node = scene.pick(scene.cluster.nodes)
    procs = main_procs(scene, target)
    victims = _victims_on_node(scene, node, procs[: max(1, len(procs) // 2)])
    start = incident_start(scene, 0.2, 0.55)
    taint = "{node.kubernetes.io/memory-pressure: }"
    pending = (
        f"0/{len(scene.cluster.nodes)} nodes are available: 1 node(s) had untolerated taint {taint}, {len(scene.cluster.nodes) - 1} Insufficient memory. preemption: 0/{len(scene.cluster.nodes)} nodes are available: 1 Preemption is not helpful for scheduling, {len(scene.cluster.nodes) - 1} No preemption victims found for incoming pod."
        if scene.chance(0.4)
        else None
    )
    for index, proc in enumerate(victims):
        at = start + index * scene.rng.uniform(2, 40)
        evict(scene, proc, at, _memory_message(scene, proc), evidence=index < 3)
        _replace(
            scene,
            proc,
            at + scene.rng.uniform(0.5, 2),
            pending=pending if proc.pod.workload is target else None,
        )
    return Verdict(
        f"{node} runs low on memory; the kubelet evicts {len(victims)} pod(s) of the namespace, among them {victims[0].pod.name}.",
        "critical" if pending else "warning",
    )


def _enospc(proc: Proc, path: str) -> Err:
    family = proc.logger.family
    if family == "go":
        return Err(f"write {path}: no space left on device")
    if family == "python":
        return Err("[Errno 28] No space left on device", "OSError")
    if family == "node":
        return Err(
            "ENOSPC: no space left on device, write",
            "Error",
            extra=(("errno", -28), ("code", "ENOSPC"), ("syscall", "write")),
        )
    return Err(
        "No space left on device",
        "java.io.IOException",
        (
            Frame("java.base/sun.nio.ch.FileDispatcherImpl", "write0", -2),
            Frame("java.base/sun.nio.ch.FileDispatcherImpl", "write", 62),
        ),
    )


@scenario("node.disk_pressure", FAMILY_VARIANTS, hard_case="other_words", prepare=want_api)
def disk_pressure(scene: Scene, family: str) -> Verdict:
    """The node's disk fills (images, logs, emptyDirs): writes to /tmp fail with ENOSPC, then evictions."""
    target = api(scene, family)
    node = scene.pick(scene.cluster.nodes)
    procs = main_procs(scene, target)
    victims = _victims_on_node(scene, node, procs[: max(1, len(procs) // 2)])
    start = incident_start(scene, 0.2, 0.5)
    resource = scene.pick(scene.domain)
    for proc in victims[:1]:
        logger: AppLogger = proc.logger
        at = start - scene.rng.uniform(60, 240)
        first = True
        while at < start:
            path = f"/tmp/{resource}-{scene.hexid(8)}.part"  # noqa: S108 - a path in a simulated log line
            frames = (
                logger.ctx.code.frame("service", resource, "spool"),
                logger.ctx.code.frame("handler", resource, "export"),
            )
            scene.log(
                at,
                proc,
                logger.error(
                    "error", f"failed to spool {resource} export", _enospc(proc, path), app_frames=frames
                ),
                evidence=[0] if first else False,
            )
            first = False
            at += scene.rng.uniform(10, 60)
    for index, proc in enumerate(victims):
        at = start + index * scene.rng.uniform(2, 30)
        evict(scene, proc, at, _disk_message(scene, proc), evidence=index < 2)
        _replace(scene, proc, at + scene.rng.uniform(0.5, 2), pending=None)
    return Verdict(
        f"{node} runs out of disk: writes fail with 'no space left on device' and the kubelet evicts {len(victims)} pod(s) for ephemeral storage.",
        "warning",
    )


_PY_LIB = "/usr/local/lib/python3.12"


def _python_error(logger: AppLogger, message: str, err: Err) -> tuple[list[Render], list[int]]:
    """A Python error logged with its traceback; the message and the exception line are the evidence."""
    lines = logger.error("error", message, err)
    return lines, [0, len(lines) - 1]


def _thread_failure(scene: Scene, proc: Proc, fork: bool) -> tuple[list[Render], list[int]]:
    """A process that cannot start a thread (or, with ``fork``, a child process) on a node out of PIDs."""
    logger: AppLogger = proc.logger
    if fork:
        helper = scene.pick(("/usr/bin/convert", "/usr/bin/git", "/usr/local/bin/wkhtmltopdf", "/bin/sh"))
        if logger.family == "go":
            return logger.log(
                "error", "export failed", error=f"fork/exec {helper}: resource temporarily unavailable"
            ), [0]
        if logger.family == "jvm":
            err = Err(
                f'Cannot run program "{helper}": error=11, Resource temporarily unavailable',
                "java.io.IOException",
                (
                    Frame("java.base/java.lang.ProcessBuilder", "start", 1170),
                    Frame("java.base/java.lang.ProcessBuilder", "start", 1089),
                ),
            )
            return logger.error("error", "Export failed", err), [0, 1]
        if logger.family == "python":
            frame = Frame(f"{_PY_LIB}/subprocess.py", "_execute_child", 1885, "self.pid = _fork_exec(")
            err = Err("[Errno 11] Resource temporarily unavailable", "BlockingIOError", (frame,))
            return _python_error(logger, "export subprocess could not start", err)
        err = Err(
            f"spawn {helper} EAGAIN",
            "Error",
            extra=(("errno", -11), ("code", "EAGAIN"), ("syscall", f"spawn {helper}"), ("path", helper)),
        )
        return logger.error("error", "export failed", err), [0]
    if logger.family == "go":
        have = scene.pick((2049, 4097, 10001))
        lines = [
            f"runtime: failed to create new OS thread (have {have} already; errno=11)",
            "runtime: may need to increase max user processes (ulimit -u)",
            "fatal error: newosproc",
            f"goroutine {scene.rng.randint(1, 400)} [running]:",
            "runtime.newosproc(0xc000380e08)",
            "\t/usr/local/go/src/runtime/os_linux.go:184 +0x1a5",
        ]
        return [fixed(line) for line in lines], [0, 2]
    if logger.family == "jvm":
        err = Err(
            "unable to create native thread: possibly out of memory or process/resource limits reached",
            "java.lang.OutOfMemoryError",
            (
                Frame("java.base/java.lang.Thread", "start0", -2),
                Frame("java.base/java.lang.Thread", "start", 1526),
                Frame("java.base/java.util.concurrent.ThreadPoolExecutor", "addWorker", 945),
            ),
        )
        lines = logger.error("error", "Failed to submit task to executor", err)
        return lines, [0, 1]
    if logger.family == "python":
        frame = Frame(f"{_PY_LIB}/threading.py", "start", 992, "_start_new_thread(self._bootstrap, ())")
        err = Err("can't start new thread", "RuntimeError", (frame,))
        return _python_error(logger, "failed to start background worker", err)
    lines = [
        "node[1]: ../src/node_platform.cc:68:std::unique_ptr<long unsigned int> node::WorkerThreadsTaskRunner::DelayedTaskScheduler::Start(): Assertion `(0) == (uv_thread_create(t.get(), start_thread, this))' failed.",
        " 1: 0xb7a940 node::Abort() [node]",
        " 2: 0xb7a9be  [node]",
    ]
    return [fixed(line) for line in lines], [0]


@scenario("node.pid_pressure", FAMILY_VARIANTS, hard_case="other_words", prepare=want_api)
def pid_pressure(scene: Scene, family: str) -> Verdict:
    """A runaway workload on the node exhausts PIDs: other processes there cannot create threads."""
    target = api(scene, family)
    procs = main_procs(scene, target)
    proc = scene.pick(procs)
    start = incident_start(scene, 0.2, 0.5)
    cited = {"done": False}

    fork = scene.chance(0.4)
    evicted = min(scene.duration - 5, start + scene.rng.uniform(120, 300))

    def die(dying: Proc, run: Run, at: float) -> None:
        lines, marks = _thread_failure(scene, dying, False)
        scene.log(at - 0.05, dying, lines, evidence=marks if not cited["done"] else False)
        cited["done"] = True

    if fork:
        # A failed fork is handled: each attempt fails, the process lives on until the pod is evicted.
        at = start
        while at < evicted:
            lines, marks = _thread_failure(scene, proc, True)
            scene.log(at, proc, lines, evidence=marks if not cited["done"] else False)
            cited["done"] = True
            at += scene.rng.uniform(15, 60)
    else:
        crash_loop(
            scene, proc, start, run_length=lambda _n: scene.rng.uniform(20, 120), on_death=die, until=evicted
        )
    evict(
        scene,
        proc,
        evicted,
        f"The node was low on resource: pids. Threshold quantity: {scene.pick((4096, 8192))}, available: {scene.rng.randint(100, 3000)}. ",
        evidence=True,
    )
    return Verdict(
        f"The node of {proc.pod.name} runs out of PIDs: {target.name} cannot {'start processes' if fork else 'create threads and crashes'} there until the pod is evicted.",
        "warning",
    )


@scenario("node.pressure_taints_pending", ("",), hard_case="other_words")
def pressure_taints_pending(scene: Scene, variant: str) -> Verdict:
    """Every node reports memory or disk pressure: new pods cannot be scheduled anywhere."""
    target = scene.pick(scene.with_role("api", "worker"))
    nodes = len(scene.cluster.nodes)
    disk = scene.rng.randint(1, nodes - 1)
    message = f"0/{nodes} nodes are available: {disk} node(s) had untolerated taint {{node.kubernetes.io/disk-pressure: }}, {nodes - disk} node(s) had untolerated taint {{node.kubernetes.io/memory-pressure: }}. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
    start = incident_start(scene, 0.15, 0.5)
    proc = scene.pick(main_procs(scene, target))
    evict(scene, proc, start, _memory_message(scene, proc), evidence=True)
    pod = create_pod(scene, target, start + 1.0, schedule=False)
    schedule_failure_loop(scene, pod, start + 1.3, message)
    return Verdict(
        f"Every node carries a memory- or disk-pressure taint: the replacement for the evicted {proc.pod.name} stays Pending.",
        "critical" if len(target.pods) <= 2 else "warning",
    )


@scenario("node.datastore_evicted", ("postgres",), hard_case="causal_chain", prepare=want_store)
def datastore_evicted(scene: Scene, variant: str) -> Verdict:
    """The database pod is evicted from a node under memory pressure; it restarts elsewhere while clients fail."""
    workload = wanted(scene, variant)
    proc = main_procs(scene, workload)[0]
    start = incident_start(scene, 0.2, 0.5)
    evict(scene, proc, start, _memory_message(scene, proc))
    pod = reschedule_stateful_pod(scene, workload, start + 0.1)
    for new in scene.procs_of_pod(pod):
        start_container(
            scene, new, pod.started_at + scene.rng.uniform(20, 90), ready_after=scene.rng.uniform(2, 8)
        )
    return Verdict(
        f"{proc.pod.name} is evicted from its node under memory pressure; the database is down until it restarts elsewhere.",
        "critical",
    )


@scenario("node.job_evicted", ("go", "python"), hard_case="subtle", prepare=prepare_cron)
def job_evicted(scene: Scene, family: str) -> Verdict:
    """A CronJob's pod writes scratch data to the node's disk until the node is under disk pressure and evicts it."""
    cron = wanted(scene, "cron")
    cron.config.backoff_limit = scene.rng.choice((1, 2))
    failing_from = incident_start(scene, 0.05, 0.4)

    def attempt(job: ObjectRef, at: float) -> tuple[str, float]:
        proc = start_job_pod(scene, cron, job, at)
        begin = proc.last_run().start + scene.rng.uniform(0.5, 2)
        scene.log(
            begin,
            proc,
            proc.logger.log("info", f"starting {cron.name.rsplit('-', 1)[-1]}", run_id=scene.hexid(8)),
        )
        evicted = begin + scene.rng.uniform(20, 90)
        evict(scene, proc, evicted, _disk_message(scene, proc), evidence=True)
        return "failed", evicted + 3

    failing_jobs(scene, cron, failing_from, attempt)
    return Verdict(
        f"Pods of the {cron.name} CronJob are evicted for ephemeral storage on a node under disk pressure; the Job fails.",
        "warning",
    )
