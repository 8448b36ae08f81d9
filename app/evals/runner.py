"""Eval runs: one prompt version x one model (or the regex baseline) over the golden set or a slice of it.

A run is a header (its spec, fingerprint, status and, once finished, metrics and report) and one item
result per (golden example, repeat). Any number of workers execute a run together: the process that
started it, ``eval resume`` after a crash, the shards of a Kubernetes Indexed Job. Each takes units of
work from the recorder's claims, so every unit is sent to the model once, and the run completes when its
last unit is stored, whichever worker stores it.

Model answers are cached by (prompt hash, model + quantization + file, sampling params incl. the repeat's
seed, example content hash): re-running an unchanged configuration sends nothing to the model. Only
answers are cached (valid or invalid output), never timeouts or server errors, which say more about the
moment than the model; a retried unit bypasses the cache.

Kept apart, as in inspect_ai: the spec (``app.evals.spec``), the dataset item (``GoldenExample``), the
model call (``analyze_*`` here), the scorer (``app.evals.scoring``), the metrics (``app.evals.metrics``)
and the stored run log (``app.evals.recorder``).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import threading
import uuid
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import httpx
from sqlalchemy import Engine

from app import __version__
from app.config import Settings
from app.errors import InferenceCancelled, InputError, LLMConnectError, LogTriageError, user_message
from app.evals.analyzers import Analyzer, RunSetup
from app.evals.metrics import ItemResult
from app.evals.recorder import Claim, RunRecorder
from app.evals.runs import (
    RunHeader,
    cached_answers,
    find_run,
    get_run,
    list_runs,
    load_items,
    load_run_items,
    now,
)
from app.evals.scoring import (
    Fingerprint,
    GoldenProvenance,
    PromptProvenance,
    baseline_version,
    cache_key,
    git_revision,
    items_sha256,
    package_versions,
    repeat_params,
    schema_sha256,
)
from app.evals.spec import (
    BASELINE_MODEL_NAME,
    BASELINE_QUANTIZATION,
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    EvalRequest,
    GoldenSlice,
    RunSpec,
    RunStatus,
    Shard,
    parse_slice,
)
from app.golden.jsonl import dataset_version, load_golden_dir
from app.golden.schema import GoldenExample
from app.llm.client import LLMClient, SamplingParams
from app.llm.health import check_health
from app.llm.models import ModelConfig, ModelHealth, find_model
from app.prompts.registry import PromptRegistry
from app.triage import TriageService, sampling_params

# The names other parts of the app import from here since before the split; each lives where it says.
__all__ = [
    "BASELINE_MODEL_NAME",
    "MAX_CONCURRENCY",
    "EvalRequest",
    "EvalRunner",
    "GoldenSlice",
    "ProgressFn",
    "RunHeader",
    "RunStatus",
    "get_run",
    "git_revision",
    "list_runs",
    "load_items",
    "load_run_items",
    "parse_slice",
]

ProgressFn = Callable[[int, int], None]
log = logging.getLogger(__name__)


class _Heartbeat:
    """A thread that keeps a worker's claims alive while the worker runs."""

    def __init__(self, recorder: RunRecorder, run_id: str, worker_id: str, interval_s: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(recorder, run_id, worker_id, interval_s),
            name="eval-heartbeat",
            daemon=True,
        )

    def _beat(self, recorder: RunRecorder, run_id: str, worker_id: str, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                recorder.heartbeat(run_id, worker_id)
            except LogTriageError as exc:
                # A missed beat costs nothing until the lease lapses; the next one may get through.
                log.warning("eval heartbeat failed: %s", exc.user_message())

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class EvalRunner:
    """Starts, executes and resumes eval runs against the store, the models and the golden set."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        models: list[ModelConfig],
        registry: PromptRegistry,
        triage: TriageService,
        http_client: httpx.Client,
        golden_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.models = models
        self.registry = registry
        self.triage = triage
        self.http_client = http_client
        self.golden_dir = golden_dir or settings.golden_dir
        self.recorder = RunRecorder(engine, lease_s=settings.eval_claim_lease_seconds)
        # How often an idle worker looks again for work other workers have not finished.
        self.poll_s = min(1.0, settings.eval_claim_lease_seconds / 4)
        self.analyzer = Analyzer(triage)

    # --- setup -----------------------------------------------------------------------------------------------

    def load_golden(self) -> list[GoldenExample]:
        """Every example of the golden directory, by id."""
        examples = load_golden_dir(self.golden_dir)
        if not examples:
            raise InputError(f"the golden set in {self.golden_dir} is empty", hint="set GOLDEN_DIR")
        return examples

    def _setup(self, prompt: str, model_name: str) -> RunSetup:
        if model_name == BASELINE_MODEL_NAME:
            ref, digest = baseline_version()
            return RunSetup(prompt_ref=ref, prompt_sha256=digest, version=None, model=None, params=None)
        model = find_model(self.models, model_name)
        version = self.registry.resolve(prompt)
        return RunSetup(
            prompt_ref=version.ref,
            prompt_sha256=version.sha256,
            version=version,
            model=model,
            params=sampling_params(version),
        )

    def _setup_for(self, header: RunHeader) -> RunSetup:
        if header.model == BASELINE_MODEL_NAME:
            ref, digest = baseline_version()
            if digest != header.prompt_sha256:
                raise InputError(
                    f"the baseline's rules changed since run {header.id} started ({header.prompt_ref} -> {ref})",
                    hint="start a new run",
                )
            return RunSetup(prompt_ref=ref, prompt_sha256=digest, version=None, model=None, params=None)
        setup = self._setup(f"{header.prompt_ref.split('@')[0]}@{header.prompt_sha256}", header.model)
        assert setup.model is not None
        if (setup.model.quantization, setup.model.gguf_file or "") != (header.quantization, header.gguf_file):
            raise InputError(
                f"model {header.model} is now {setup.model.quantization} {setup.model.gguf_file or ''}, "
                f"but run {header.id} used {header.quantization} {header.gguf_file}",
                hint="restore the models file or start a new run",
            )
        return setup

    def _health(self, model: ModelConfig) -> ModelHealth:
        return check_health(model, self.http_client, self.settings)

    def _examples_for(
        self, header: RunHeader, examples: Sequence[GoldenExample] | None
    ) -> dict[str, GoldenExample]:
        """The run's examples by id, refusing a golden set that lost or changed any of them."""
        golden = examples if examples is not None else self.load_golden()
        by_id = {example.id: example for example in golden if example.id in set(header.item_ids)}
        missing = [example_id for example_id in header.item_ids if example_id not in by_id]
        if missing:
            raise InputError(
                f"run {header.id} covers {len(missing)} example(s) no longer in the golden set "
                f"(e.g. {missing[0]})",
                hint="restore the golden set or start a new run",
            )
        chosen = [by_id[example_id] for example_id in header.item_ids]
        if items_sha256(chosen) != header.fingerprint.golden.items_sha256:
            raise InputError(
                f"the golden examples of run {header.id} changed since it started",
                hint="restore the golden set or start a new run",
            )
        return by_id

    # --- start, execute, resume -----------------------------------------------------------------------------

    def start(self, request: EvalRequest, examples: Sequence[GoldenExample] | None = None) -> RunHeader:
        """Record a new run's header with its spec and fingerprint, or join the run ``request.run_id`` names.

        Runs nothing yet. Joining needs the same spec (prompt version, model file, params, items,
        repeats, cache use): InputError naming what differs.
        """
        golden = list(examples) if examples is not None else self.load_golden()
        chosen = request.slice.apply(golden)
        if not chosen:
            raise InputError(f"the slice {request.slice.as_dict()} selects no golden examples")
        setup = self._setup(request.prompt, request.model)
        model = setup.model
        params = setup.params.model_dump(mode="json") if setup.params else {}
        golden_version = dataset_version(golden)
        spec = RunSpec(
            prompt_ref=setup.prompt_ref,
            prompt_sha256=setup.prompt_sha256,
            model=model.name if model else BASELINE_MODEL_NAME,
            quantization=model.quantization if model else BASELINE_QUANTIZATION,
            gguf_file=(model.gguf_file or "") if model else "",
            params=params,
            golden_version=golden_version,
            items_sha256=items_sha256(chosen),
            slice=request.slice.as_dict(),
            item_ids=[example.id for example in chosen],
            repeats=request.repeats,
            use_cache=request.use_cache and model is not None,
        )
        if request.run_id is not None:
            existing = find_run(self.engine, request.run_id)
            if existing is not None:
                return self._join(existing, spec)
        health: ModelHealth | None = self._health(model) if model is not None else None
        if request.concurrency is not None:
            concurrency, source = request.concurrency, "requested"
        elif health is not None and health.total_slots:
            concurrency, source = min(health.total_slots, MAX_CONCURRENCY), "server slots"
        else:
            concurrency, source = DEFAULT_CONCURRENCY, "default"
        fingerprint = Fingerprint(
            prompt=PromptProvenance(
                ref=setup.prompt_ref, sha256=setup.prompt_sha256, requested=request.prompt
            ),
            model=model.model_dump(mode="json") if model else {"name": BASELINE_MODEL_NAME, "kind": "rules"},
            server=health.model_dump(mode="json") if health else None,
            server_build=(health.build_info if health else None) or "n/a",
            golden=GoldenProvenance(
                version=golden_version,
                dir=str(self.golden_dir),
                examples=len(golden),
                items_sha256=spec.items_sha256,
            ),
            response_schema_sha256=schema_sha256(),
            use_cache=spec.use_cache,
            concurrency_source=source,
            app_version=__version__,
            git_revision=git_revision(),
            python=platform.python_version(),
            packages=package_versions(),
            spec_sha256=spec.sha256(),
            repeat_seeds=[
                repeat_params(setup.params, repeat, request.repeats).seed for repeat in range(request.repeats)
            ]
            if setup.params
            else [],
        )
        run_id = request.run_id or str(uuid.uuid4())
        moment = now()
        created = self.recorder.create_run(
            {
                **spec.model_dump(exclude={"items_sha256", "use_cache"}),
                "id": run_id,
                "created_at": moment,
                "started_at": moment,
                "ended_at": None,
                "status": "running",
                "base_url": model.base_url if model else "",
                "concurrency": concurrency,
                "fingerprint": fingerprint.model_dump(mode="json"),
                "summary": {},
                "report": {},
                "error": None,
            }
        )
        header = get_run(self.engine, run_id)
        return header if created else self._join(header, spec)

    @staticmethod
    def _join(header: RunHeader, spec: RunSpec) -> RunHeader:
        differences = header.spec.differences(spec)
        if differences:
            raise InputError(
                f"run {header.id} exists and runs something else (differs in {', '.join(differences)})",
                hint="give every shard the same options, or pick a new --run-id",
            )
        return header

    def run(
        self,
        request: EvalRequest,
        *,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        examples: Sequence[GoldenExample] | None = None,
        shard: Shard | None = None,
    ) -> RunHeader:
        """Start (or join) a run and work on it until it ends; the header as this worker leaves it."""
        golden = list(examples) if examples is not None else self.load_golden()
        header = self.start(request, golden)
        return self.execute(header.id, on_progress=on_progress, cancel=cancel, examples=golden, shard=shard)

    def resume(
        self,
        run_ref: str,
        *,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        examples: Sequence[GoldenExample] | None = None,
        retry_failed: bool = False,
    ) -> RunHeader:
        """Finish a run that was killed, cancelled or failed (and, if asked, redo its failed items)."""
        header = get_run(self.engine, run_ref)
        return self.execute(
            header.id,
            on_progress=on_progress,
            cancel=cancel,
            examples=examples,
            resuming=True,
            retry_failed=retry_failed,
        )

    def execute(
        self,
        run_id: str,
        *,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        examples: Sequence[GoldenExample] | None = None,
        resuming: bool = False,
        shard: Shard | None = None,
        retry_failed: bool = False,
    ) -> RunHeader:
        """Work on a started run as one of its workers until no unit is left, then record its results.

        Returns the run's header: completed once every unit is stored (by any worker), cancelled when
        ``cancel`` stopped this worker first. Errors mark the run failed (unless another worker is still
        on it), release this worker's units, and propagate.
        """
        cancel = cancel or threading.Event()
        header = get_run(self.engine, run_id)
        by_id = self._examples_for(header, examples)
        setup = self._setup_for(header)
        recorder = self.recorder
        recorder.ensure_claims(header.id, header.item_ids, header.repeats)
        recorder.release_lost(header.id)
        if retry_failed:
            recorder.retry_failed(header.id)
        done, total = recorder.progress(header.id)
        recorder.reopen(header.id, work_left=done < total, resuming=resuming)
        worker = recorder.register_worker(header.id, shard)
        if on_progress:
            on_progress(done, total)
        try:
            with (
                _Heartbeat(recorder, header.id, worker, recorder.lease.total_seconds() / 3),
                contextlib.closing(self._work(header, setup, by_id, worker, shard, cancel)) as results,
            ):
                for _ in results:
                    if on_progress:
                        on_progress(*recorder.progress(header.id))
        except BaseException as exc:
            cancelled = isinstance(exc, KeyboardInterrupt | InferenceCancelled)
            message = user_message(exc)
            status: RunStatus = "cancelled" if cancelled else "failed"
            recorder.release(header.id, worker)
            recorder.end_worker(worker, status)
            recorder.stop(header.id, worker, status, None if cancelled else message)
            raise
        if recorder.complete(header.id):
            recorder.end_worker(worker, "done")
        else:  # cancelled before the run's last unit was stored
            recorder.release(header.id, worker)
            recorder.end_worker(worker, "cancelled")
            recorder.stop(header.id, worker, "cancelled", None)
        return get_run(self.engine, header.id)

    def _work(
        self,
        header: RunHeader,
        setup: RunSetup,
        by_id: dict[str, GoldenExample],
        worker: str,
        shard: Shard | None,
        cancel: threading.Event,
    ) -> Generator[ItemResult, None, None]:
        """Claim, answer and store units until none is left or ``cancel`` is set; yield each stored result."""
        recorder = self.recorder
        client: LLMClient | None = None
        running: dict[Future[ItemResult | None], tuple[Claim, str | None]] = {}
        executor = ThreadPoolExecutor(max_workers=max(1, header.concurrency), thread_name_prefix="eval")

        def analyze(claim: Claim, params: SamplingParams | None) -> ItemResult | None:
            if cancel.is_set():
                return None
            example = by_id[claim.example_id]
            if client is None:
                return self.analyzer.baseline(example, header.id, claim.repeat)
            return self.analyzer.with_model(example, header.id, setup, client, cancel, claim.repeat, params)

        try:
            while True:
                claims = (
                    []
                    if cancel.is_set()
                    else recorder.claim(header.id, worker, header.concurrency - len(running), shard)
                )
                plans = {claim.id: self._plan(header, setup, by_id, claim) for claim in claims}
                use_cache = header.fingerprint.use_cache
                hits = (
                    cached_answers(self.engine, [key for key, _ in plans.values() if key is not None])
                    if use_cache and plans
                    else {}
                )
                to_send: list[Claim] = []
                for claim in claims:
                    key, _ = plans[claim.id]
                    hit = hits.get(key) if key is not None and claim.attempts == 0 else None
                    if hit is None:
                        to_send.append(claim)
                        continue
                    item = self.analyzer.from_cache(
                        by_id[claim.example_id], header.id, claim.repeat, hit, setup.version
                    )
                    if recorder.commit(header.id, worker, claim, item, None):
                        yield item
                if to_send and setup.model is not None and client is None:
                    health = self._health(setup.model)
                    if not health.ok:
                        raise LLMConnectError(
                            f"model {setup.model.name} at {setup.model.base_url} is not ready: {health.detail}",
                            hint="start the model server (logtriage serve-models) or pick another model",
                        )
                    client = self.triage.llm_client(setup.model)
                for claim in to_send:
                    running[executor.submit(analyze, claim, plans[claim.id][1])] = (claim, plans[claim.id][0])
                if running:
                    finished, _ = wait(running, timeout=self.poll_s, return_when=FIRST_COMPLETED)
                    for future in finished:
                        claim, key = running.pop(future)
                        item = future.result()
                        if item is not None and recorder.commit(header.id, worker, claim, item, key):
                            yield item
                    continue
                if claims:
                    continue  # all answered from the cache: there may be more
                if cancel.is_set():
                    return
                done, total = recorder.progress(header.id)
                if done >= total:
                    return
                # The rest is held by other workers: wait for them to store it, or for their leases to
                # lapse (a worker on this host that died is noticed at once).
                recorder.release_lost(header.id)
                cancel.wait(self.poll_s)
        except BaseException:
            cancel.set()
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _plan(
        self, header: RunHeader, setup: RunSetup, by_id: dict[str, GoldenExample], claim: Claim
    ) -> tuple[str | None, SamplingParams | None]:
        """A unit's cache key and sampling params (the repeat's seed); None for the baseline."""
        if setup.model is None or setup.params is None:
            return None, None
        params = repeat_params(setup.params, claim.repeat, header.repeats)
        example = by_id[claim.example_id]
        return cache_key(setup.prompt_sha256, setup.model, params, example.content_hash()), params
