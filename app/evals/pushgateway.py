"""Push a run's results to the Prometheus Pushgateway, where Grafana's eval dashboard and the alerts read them.

One group per (prompt name, model, quantization) under ``job="logtriage_eval"``; the prompt *version* is a
label on every pushed series, not part of the group. A prompt edit therefore replaces the old version's
series in the same group instead of leaving a group behind that stops updating: the Pushgateway never
expires groups, and the staleness alert would fire for a retired version forever.

The metrics are named as ``EVAL_METRIC_NAMES`` in ``app.telemetry.metrics``. They are gauges, except the
two latency families: quantiles of a distribution are a summary (``quantile`` label, ``_sum``,
``_count``), which is also what ``promtool check metrics`` insists on. Pushes use POST
(``pushadd_to_gateway``), which replaces only the metric families pushed: a failed run pushes its partial
results *without* ``logtriage_eval_last_success_timestamp_seconds``, so the last success stays on the
gateway and the staleness alert fires when successes stop. ``logtriage_eval_leak_ratio`` is NaN when
no answer of the run was checked for copied worked examples (a prompt without examples, the baseline).

The HTTP request goes through an ``httpx.Client`` we are given (prometheus_client's handler hook), so its
errors are translated here and tests can use ``httpx.MockTransport``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import httpx
from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from app.errors import ExportError
from app.evals.metrics import LATENCY_QUANTILES, LatencySummary, RunMetrics
from app.evals.runner import RunHeader
from app.telemetry.metrics import EVAL_METRIC_NAMES

JOB = "logtriage_eval"
PUSH_TIMEOUT_S = 10.0

_HELP: dict[str, tuple[str, tuple[str, ...]]] = {
    "logtriage_eval_precision_ratio": (
        "Precision of one root-cause class in the latest eval run.",
        ("class",),
    ),
    "logtriage_eval_recall_ratio": ("Recall of one root-cause class in the latest eval run.", ("class",)),
    "logtriage_eval_f1_ratio": ("F1 of one root-cause class in the latest eval run.", ("class",)),
    "logtriage_eval_macro_f1_ratio": ("Macro-averaged F1 over the classes in the latest eval run.", ()),
    "logtriage_eval_micro_f1_ratio": ("Micro-averaged F1 in the latest eval run.", ()),
    "logtriage_eval_accuracy_ratio": (
        "Share of items answered with the right class in the latest eval run.",
        (),
    ),
    "logtriage_eval_invalid_output_ratio": ("Share of items whose answer was not a valid RCA.", ()),
    "logtriage_eval_leak_ratio": (
        "Share of the answers checked for few-shot leakage that copy a worked example of the prompt "
        "(NaN when none was checked).",
        (),
    ),
    "logtriage_eval_latency_seconds": (
        "Quantiles of the time per answered item in the latest eval run.",
        ("quantile",),
    ),
    "logtriage_eval_time_to_first_token_seconds": (
        "Quantiles of the time to first token per answered item in the latest eval run.",
        ("quantile",),
    ),
    "logtriage_eval_items": ("Items in the latest eval run.", ()),
    "logtriage_eval_duration_seconds": ("Wall time of the latest eval run.", ()),
    "logtriage_eval_last_success_timestamp_seconds": ("Unix time the last successful eval run finished.", ()),
}
assert tuple(_HELP) == EVAL_METRIC_NAMES, "the pushed gauges are exactly the names dashboards and alerts use"

Handler = Callable[[str, str, float | None, list[tuple[str, str]], bytes], Callable[[], None]]


def prompt_name(prompt_ref: str) -> str:
    """The prompt's name without its version (``rca-evidence-first@0123abcd`` -> ``rca-evidence-first``)."""
    return prompt_ref.split("@", 1)[0]


def grouping_key(header: RunHeader) -> dict[str, str]:
    """The Pushgateway group of a run (besides ``job``): prompt name, model and quantization."""
    return {
        "prompt": prompt_name(header.prompt_ref),
        "model": header.model,
        "quantization": header.quantization,
    }


class WithLabels(Collector):
    """Every family of a registry, with extra labels on every sample."""

    def __init__(self, registry: CollectorRegistry, labels: dict[str, str]) -> None:
        self.registry = registry
        self.labels = labels

    def collect(self) -> Iterator[Metric]:
        """The registry's families, relabelled."""
        for family in self.registry.collect():
            relabelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                relabelled.add_sample(
                    sample.name, {**sample.labels, **self.labels}, sample.value, sample.timestamp
                )
            yield relabelled


_SUMMARIES = ("logtriage_eval_latency_seconds", "logtriage_eval_time_to_first_token_seconds")


class LatencySummaries(Collector):
    """The latency quantiles of a run as two summary families (seconds)."""

    def __init__(self, latency: LatencySummary) -> None:
        self.latency = latency

    def collect(self) -> list[Metric]:
        """Quantile, sum and count samples of total time and time to first token."""
        latency = self.latency
        families = []
        for name, quantiles, total_ms, count in (
            (_SUMMARIES[0], latency.total_ms, latency.total_ms_sum, latency.timed_items),
            (_SUMMARIES[1], latency.ttft_ms, latency.ttft_ms_sum, latency.ttft_items),
        ):
            family = Metric(name, _HELP[name][0], "summary")
            for quantile in LATENCY_QUANTILES:
                value = quantiles.get(f"{quantile:g}")
                if value is not None:
                    family.add_sample(name, {"quantile": f"{quantile:g}"}, value / 1000)
            family.add_sample(f"{name}_sum", {}, total_ms / 1000)
            family.add_sample(f"{name}_count", {}, float(count))
            families.append(family)
        return families


def build_registry(header: RunHeader, metrics: RunMetrics, *, now: float | None = None) -> CollectorRegistry:
    """A fresh registry holding a run's metrics; the success timestamp only when the run succeeded."""
    registry = CollectorRegistry()
    registry.register(LatencySummaries(metrics.latency))
    gauges = {
        name: Gauge(name, help_text, labels, registry=registry)
        for name, (help_text, labels) in _HELP.items()
        if name not in _SUMMARIES
        and (name != "logtriage_eval_last_success_timestamp_seconds" or header.succeeded)
    }
    for row in metrics.per_class:
        gauges["logtriage_eval_precision_ratio"].labels(row.label).set(row.precision)
        gauges["logtriage_eval_recall_ratio"].labels(row.label).set(row.recall)
        gauges["logtriage_eval_f1_ratio"].labels(row.label).set(row.f1)
    gauges["logtriage_eval_macro_f1_ratio"].set(metrics.macro_f1)
    gauges["logtriage_eval_micro_f1_ratio"].set(metrics.micro_f1)
    gauges["logtriage_eval_accuracy_ratio"].set(metrics.accuracy)
    gauges["logtriage_eval_invalid_output_ratio"].set(metrics.invalid_output_rate)
    # NaN, not 0, when no answer was checked (no worked examples, the baseline, no valid answer): the family
    # is still pushed, so it replaces an earlier version's figure in the group instead of leaving it behind.
    gauges["logtriage_eval_leak_ratio"].set(metrics.leak_rate if metrics.leak_checked_items else math.nan)
    gauges["logtriage_eval_items"].set(metrics.items)
    gauges["logtriage_eval_duration_seconds"].set(header.duration_s or 0.0)
    if header.succeeded:
        finished = header.ended_at.timestamp() if header.ended_at else (now or time.time())
        gauges["logtriage_eval_last_success_timestamp_seconds"].set(finished)
    return registry


def httpx_handler(client: httpx.Client) -> Handler:
    """A prometheus_client push handler that sends the request with ``client`` and raises ExportError."""

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        def send() -> None:
            where = str(httpx.URL(url).copy_with(path="/"))
            try:
                response = client.request(method, url, content=data, headers=headers, timeout=timeout)
            except httpx.TimeoutException:
                raise ExportError(
                    f"the Pushgateway at {where} did not answer within {timeout}s",
                    hint="check PUSHGATEWAY_URL",
                ) from None
            except httpx.HTTPError as exc:
                raise ExportError(
                    f"could not reach the Pushgateway at {where}: {exc}", hint="check PUSHGATEWAY_URL"
                ) from None
            if response.is_error:
                body = " ".join(response.text.split())[:300]
                raise ExportError(
                    f"the Pushgateway at {where} refused the push: HTTP {response.status_code}: {body}"
                )

        return send

    return handler


def push_run(
    gateway_url: str | None,
    header: RunHeader,
    *,
    client: httpx.Client,
    timeout_s: float = PUSH_TIMEOUT_S,
) -> dict[str, str]:
    """Push a finished (or failed) run's gauges to the Pushgateway; the grouping key pushed to."""
    if not gateway_url:
        raise ExportError("PUSHGATEWAY_URL is not set", hint="set it to the Pushgateway's base URL")
    if header.summary is None:
        raise ExportError(f"run {header.id} has no results to push yet (status {header.status})")
    key = grouping_key(header)
    pushed = CollectorRegistry()
    pushed.register(WithLabels(build_registry(header, header.summary), {"prompt_version": header.prompt_ref}))
    pushadd_to_gateway(
        gateway_url,
        job=JOB,
        registry=pushed,
        grouping_key=key,
        timeout=timeout_s,
        handler=httpx_handler(client),
    )
    return {"job": JOB, **key}
