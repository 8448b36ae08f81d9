"""``dependency_unavailable``: something the workload calls refuses, stalls or fails, with no deeper cause in view.

The dependency lives outside the namespace (a managed database, another team's API, a Kafka cluster),
so the window only shows its clients: each runtime's driver words the refusal, the timeout or the
5xx in its own way, and long-lived clients (Kafka, MongoDB) keep reconnecting on their own schedule.
"""

from __future__ import annotations

import random

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    api,
    api_on_postgres,
    dep,
    force_requests,
    host_of,
    incident_start,
    main_procs,
    outage,
    prepare_internal_upstream,
    prepare_kafka_worker,
    upstream_weight,
    want_api,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.golden.schema import Severity
from app.logs.synthetic.parts import Dep
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("dependency_unavailable")


def _window(scene: Scene) -> tuple[float, float, bool]:
    """When the outage begins and ends; whether it is still on at the end of the window."""
    start = incident_start(scene, 0.15, 0.55)
    ongoing = scene.chance(0.6)
    end = scene.duration + 1 if ongoing else start + scene.rng.uniform(180, 0.9 * (scene.duration - start))
    return start, end, ongoing


def _hit(scene: Scene, target: Dep, start: float, end: float, failure: str, share: float) -> None:
    """Make the outage and make sure callers meet it while it lasts."""
    outage(scene, target, start, end, failure, share=share)
    for workload in scene.callers(target):
        if workload.role != "api":
            continue
        for proc in main_procs(scene, workload):
            force_requests(scene, proc, start + 1, min(end, scene.duration) - 1, 2, through=target)


def _severity(share: float, ongoing: bool) -> Severity:
    return "critical" if share >= 0.8 and ongoing else "warning"


@scenario("dep.database_refused", FAMILY_VARIANTS, prepare=api_on_postgres("external"))
def database_refused(scene: Scene, family: str) -> Verdict:
    """The managed PostgreSQL the service uses stops accepting connections (failover, maintenance)."""
    target = dep(scene, "postgres")
    start, end, ongoing = _window(scene)
    share = 1.0 if scene.chance(0.7) else scene.rng.uniform(0.3, 0.6)
    _hit(scene, target, start, end, scene.pick(("refused", "refused", "timeout")), share)
    state = "and is still refusing" if ongoing else "for a few minutes, then recovers"
    return Verdict(
        f"The database {host_of(target.target)} refuses connections from {api(scene, family).name} {state}; requests fail with 500.",
        _severity(share, ongoing),
    )


@scenario("dep.kafka_unreachable", FAMILY_VARIANTS, prepare=prepare_kafka_worker)
def kafka_unreachable(scene: Scene, family: str) -> Verdict:
    """The Kafka brokers stop answering: producers and consumers log their client library's reconnects."""
    target = dep(scene, "kafka")
    start, end, ongoing = _window(scene)
    _hit(scene, target, start, end, scene.pick(("refused", "timeout")), 1.0)
    return Verdict(
        f"The Kafka bootstrap {host_of(target.target)} is unreachable; the {family} clients keep failing to connect and no events are consumed.",
        "critical" if ongoing else "warning",
    )


def _prepare_mongo(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_api(spec, rng, family)
    spec.postgres = None
    spec.pgbouncer = False
    spec.mongodb = True


@scenario("dep.mongodb_no_primary", FAMILY_VARIANTS, hard_case="other_words", prepare=_prepare_mongo)
def mongodb_no_primary(scene: Scene, family: str) -> Verdict:
    """The MongoDB replica set has no reachable primary: server selection times out."""
    target = dep(scene, "mongodb")
    start, end, ongoing = _window(scene)
    _hit(scene, target, start, end, scene.pick(("refused", "timeout")), 1.0)
    return Verdict(
        f"{api(scene, family).name} cannot select a MongoDB server at {host_of(target.target)}; requests fail until it comes back.",
        _severity(1.0, ongoing),
    )


@scenario(
    "dep.too_many_clients", FAMILY_VARIANTS, hard_case="other_words", prepare=api_on_postgres("external")
)
def too_many_clients(scene: Scene, family: str) -> Verdict:
    """PostgreSQL has no connection slots left: new connections are refused with "too many clients"."""
    target = dep(scene, "postgres")
    start, end, _ongoing = _window(scene)
    share = scene.rng.uniform(0.35, 0.8)
    _hit(scene, target, start, end, "too_many_clients", share)
    return Verdict(
        f"The database {host_of(target.target)} is out of connection slots (sorry, too many clients already); part of {api(scene, family).name}'s requests fail.",
        "warning" if share < 0.7 else "critical",
    )


def _upstream_outage(scene: Scene, failure: str) -> tuple[Dep, Severity]:
    """Another team's API fails all or part of the calls (``failure``), as a core or a side dependency."""
    target = dep(scene, "http", name="internal")
    core = upstream_weight(scene, target)
    start, end, ongoing = _window(scene)
    share = 1.0 if scene.chance(0.5) else scene.rng.uniform(0.3, 0.7)
    _hit(scene, target, start, end, failure, share)
    return target, _severity(share if core else 0.0, ongoing)


@scenario("dep.upstream_timeout", FAMILY_VARIANTS, prepare=prepare_internal_upstream)
def upstream_timeout(scene: Scene, family: str) -> Verdict:
    """Another team's API stops answering in time: calls hit the client timeout and the requests return 504."""
    target, severity = _upstream_outage(scene, "read_timeout")
    return Verdict(
        f"Calls from {api(scene, family).name} to {host_of(target.target)} time out; its requests fail with 504.",
        severity,
    )


@scenario(
    "dep.upstream_unavailable", FAMILY_VARIANTS, hard_case="shared_symptom", prepare=prepare_internal_upstream
)
def upstream_unavailable(scene: Scene, family: str) -> Verdict:
    """Another team's API answers 503 Service Unavailable."""
    target, severity = _upstream_outage(scene, "unavailable")
    return Verdict(
        f"The upstream API {host_of(target.target)} answers 503 to {api(scene, family).name}, whose requests fail in turn.",
        severity,
    )


def _prepare_cache(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_api(spec, rng, family)
    spec.redis = "external"


@scenario("dep.cache_unreachable", ("jvm", "node"), hard_case="subtle", prepare=_prepare_cache)
def cache_unreachable(scene: Scene, family: str) -> Verdict:
    """The shared Redis cache is unreachable: the clients' watchdogs reconnect in a loop, requests fall back."""
    target = dep(scene, "redis")
    start, end, _ongoing = _window(scene)
    outage(scene, target, start, end, scene.pick(("refused", "timeout")))
    for proc in main_procs(scene, api(scene, family)):
        force_requests(scene, proc, start + 1, min(end, scene.duration) - 1, 2)
    return Verdict(
        f"The Redis cache {host_of(target.target)} is unreachable; {api(scene, family).name} reconnects in a loop and serves from the database, slower.",
        "warning",
    )
