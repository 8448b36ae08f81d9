"""Kubernetes events exactly as Alloy's ``loki.source.kubernetes_events`` ships them to Loki.

Alloy writes each Event it sees (created, or updated with a new resourceVersion) as one logfmt line:
``name``, ``kind``, ``action``, ``objectAPIversion``, ``objectRV``, ``eventRV``, ``reportinginstance``,
``reportingcontroller``, ``sourcecomponent``, ``sourcehost``, ``reason``, ``type``, ``count`` (each only
when set) and ``msg`` (Go-quoted), every field followed by a space. Its labels are ``namespace`` (the
involved object's), ``job`` (``job_name``) and ``instance`` (the component's id); Loki 3 adds
``service_name`` from ``job``. The timestamp is the Event's ``lastTimestamp`` (whole seconds), or its
``eventTime`` (microseconds) for events.k8s.io events such as the scheduler's.

What reaches Alloy is what the API server holds, so the recorders model client-go: the kubelet and
controllers count repeats of an identical event (``count`` goes up and Alloy sees an update), merge
more than ten variants of one reason into "(combined from similar events): ...", and stop after a
burst of 25 events per object, then allow one every five minutes. The scheduler's newer recorder
sends the first occurrence, then one update as a series, then a refresh every 30 minutes; the series
count is not a field Alloy prints.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from app.logs.synthetic.formats import go_quote
from app.logs.synthetic.timeline import Labels, Timeline

# The component in k8s/infrastructure/controllers/alloy.yaml: loki.source.kubernetes_events "cluster".
EVENTS_COMPONENT_LABEL = "cluster"
EVENTS_JOB = "loki.source.kubernetes_events"
EVENTS_INSTANCE = f"loki.source.kubernetes_events.{EVENTS_COMPONENT_LABEL}"
EVENTS_FORMAT = "kube-events"

# client-go's EventCorrelator defaults (tools/record/events_cache.go).
_SPAM_BURST = 25
_SPAM_REFILL_S = 300.0
_AGGREGATE_MAX = 10
_AGGREGATE_WINDOW_S = 600.0
# client-go's events.k8s.io broadcaster: series refreshed every 30 minutes, finished after 6 idle minutes.
_SERIES_REFRESH_S = 1800.0
_SERIES_FINISH_S = 360.0


def event_labels(namespace: str) -> Labels:
    """The stream labels of an event about an object in ``namespace``, as Loki returns them."""
    return {
        "instance": EVENTS_INSTANCE,
        "job": EVENTS_JOB,
        "namespace": namespace,
        "service_name": EVENTS_JOB,
    }


def alloy_event_line(
    *,
    name: str,
    kind: str,
    api_version: str,
    object_rv: int,
    event_rv: int,
    reason: str,
    type_: str,
    message: str,
    count: int = 0,
    action: str = "",
    reporting_instance: str = "",
    reporting_controller: str = "",
    source_component: str = "",
    source_host: str = "",
) -> str:
    """One event in Alloy's logfmt: the fields it sets, in its order, each followed by a space."""
    fields: list[tuple[str, str]] = [("name", name), ("kind", kind), ("action", action)]
    fields += [("objectAPIversion", api_version), ("objectRV", str(object_rv)), ("eventRV", str(event_rv))]
    fields += [("reportinginstance", reporting_instance), ("reportingcontroller", reporting_controller)]
    fields += [("sourcecomponent", source_component), ("sourcehost", source_host)]
    fields += [("reason", reason), ("type", type_), ("count", str(count) if count else "")]
    text = "".join(f"{key}={value} " for key, value in fields if value)
    return f"{text}msg={go_quote(message)} "


@dataclass(frozen=True)
class ObjectRef:
    """The object an event is about (its ``involvedObject``)."""

    kind: str
    name: str
    uid: str
    api_version: str = "v1"


@dataclass(frozen=True)
class Reporter:
    """Who records an event: a component (and host, for the kubelet), or a new-style controller instance."""

    component: str
    host: str = ""
    # events.k8s.io recorders (the scheduler) set reportingController/Instance and an action, no source.
    instance: str = ""

    @property
    def new_style(self) -> bool:
        """Whether this reporter uses the events.k8s.io API (series instead of counts)."""
        return bool(self.instance)


@dataclass
class _Series:
    first_ns: int
    count: int
    last_s: float
    refreshed_s: float


@dataclass
class _Bucket:
    tokens: float
    at_s: float


@dataclass
class EventRecorder:
    """Records the events of one namespace's objects into a timeline, as the API server would hold them."""

    timeline: Timeline
    namespace: str
    rng: random.Random
    rv_base: int = 0
    _counts: dict[tuple[object, ...], int] = field(default_factory=dict)
    _variants: dict[tuple[object, ...], list[tuple[float, str]]] = field(default_factory=dict)
    _buckets: dict[tuple[object, ...], _Bucket] = field(default_factory=dict)
    _series: dict[tuple[object, ...], _Series] = field(default_factory=dict)
    _object_rv: dict[ObjectRef, int] = field(default_factory=dict)
    _used_rvs: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rv_base = self.rv_base or self.rng.randint(2_000_000, 90_000_000)
        self.labels = event_labels(self.namespace)

    def resource_version(self, at_s: float) -> int:
        """The cluster's resourceVersion at a time: it grows with every write (~37 per second here)."""
        version = self.rv_base + int((at_s + 86_400) * 37) + self.rng.randrange(3)
        # The API server never hands out one resourceVersion twice.
        while version in self._used_rvs:
            version += 1
        self._used_rvs.add(version)
        return version

    def touch(self, obj: ObjectRef, at_s: float) -> None:
        """Note that ``obj`` changed at ``at_s`` (its resourceVersion moves on)."""
        self._object_rv[obj] = self.resource_version(at_s)

    def record(
        self,
        at_s: float,
        obj: ObjectRef,
        reporter: Reporter,
        type_: str,
        reason: str,
        message: str,
        *,
        action: str = "",
        evidence: bool = False,
    ) -> bool:
        """One occurrence of an event; returns whether a line reached Loki inside the window."""
        if obj not in self._object_rv:
            self.touch(obj, at_s - self.rng.uniform(5, 3600))
        if reporter.new_style:
            return self._record_series(at_s, obj, reporter, type_, reason, message, action, evidence)
        return self._record_counted(at_s, obj, reporter, type_, reason, message, evidence)

    def _allowed(self, at_s: float, key: tuple[object, ...]) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(_SPAM_BURST, at_s)
        bucket.tokens = min(_SPAM_BURST, bucket.tokens + (at_s - bucket.at_s) / _SPAM_REFILL_S)
        bucket.at_s = at_s
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _record_counted(
        self,
        at_s: float,
        obj: ObjectRef,
        reporter: Reporter,
        type_: str,
        reason: str,
        message: str,
        evidence: bool,
    ) -> bool:
        group = (reporter, obj, type_, reason)
        recent = [
            (at, text) for at, text in self._variants.get(group, []) if at_s - at <= _AGGREGATE_WINDOW_S
        ]
        if message not in {text for _, text in recent}:
            recent.append((at_s, message))
        self._variants[group] = recent
        key: tuple[object, ...] = (*group, message)
        if len(recent) >= _AGGREGATE_MAX:
            message = f"(combined from similar events): {message}"
            key = (*group, "(combined)")
        if not self._allowed(at_s, (reporter, obj)):
            return False
        count = self._counts[key] = self._counts.get(key, 0) + 1
        stamp = self.timeline.ns(at_s) // 1_000_000_000 * 1_000_000_000
        return self._emit(at_s, stamp, obj, reporter, type_, reason, message, count, "", evidence)

    def _record_series(
        self,
        at_s: float,
        obj: ObjectRef,
        reporter: Reporter,
        type_: str,
        reason: str,
        message: str,
        action: str,
        evidence: bool,
    ) -> bool:
        key: tuple[object, ...] = (reporter, obj, type_, reason, action, message)
        series = self._series.get(key)
        if series is None or at_s - series.last_s > _SERIES_FINISH_S:
            stamp = self.timeline.ns(at_s) // 1000 * 1000
            self._series[key] = _Series(stamp, 1, at_s, at_s)
            return self._emit(at_s, stamp, obj, reporter, type_, reason, message, 0, action, evidence)
        series.count += 1
        series.last_s = at_s
        if series.count == 2 or at_s - series.refreshed_s >= _SERIES_REFRESH_S:
            series.refreshed_s = at_s
            # An update keeps the first eventTime, so Loki stores it at the first occurrence's time; the
            # count lives in ``series``, which Alloy does not print (its ``count`` is the legacy field).
            return self._emit(
                at_s, series.first_ns, obj, reporter, type_, reason, message, 0, action, evidence
            )
        return False

    def _emit(
        self,
        at_s: float,
        stamp_ns: int,
        obj: ObjectRef,
        reporter: Reporter,
        type_: str,
        reason: str,
        message: str,
        count: int,
        action: str,
        evidence: bool,
    ) -> bool:
        line = alloy_event_line(
            name=obj.name,
            kind=obj.kind,
            action=action,
            api_version=obj.api_version,
            object_rv=self._object_rv[obj],
            event_rv=self.resource_version(at_s),
            reporting_instance=reporter.instance or reporter.host,
            reporting_controller=reporter.component,
            source_component="" if reporter.new_style else reporter.component,
            source_host="" if reporter.new_style else reporter.host,
            reason=reason,
            type_=type_,
            count=count,
            message=message,
        )
        return self.timeline.add(
            at_s, self.labels, lambda _ts: line, EVENTS_FORMAT, evidence=evidence, ts_ns=stamp_ns
        )
