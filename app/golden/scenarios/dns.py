"""``dns_resolution_failure``: a name the workload needs does not resolve, or the cluster DNS does not answer.

CoreDNS's own lines stay in kube-system, so the window shows only the clients: Go's ``lookup ... on
10.96.0.10:53: no such host`` or ``i/o timeout``, glibc's "Name or service not known" and "Temporary
failure in name resolution" (Python, PostgreSQL's libpq), Java's ``UnknownHostException``, Node's
``ENOTFOUND`` / ``EAI_AGAIN``, librdkafka's "Failed to resolve", nginx's "host not found in upstream",
PgBouncer's "DNS lookup failed". A name that does not resolve is this class even when the app calls it
"cannot connect".
"""

from __future__ import annotations

import random

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    api,
    dep,
    failing_rollout,
    force_requests,
    incident_start,
    main_procs,
    only_dependency,
    outage,
    prepare_internal_upstream,
    prepare_kafka_worker,
    upstream_weight,
    want_api,
    want_postgres,
    want_upstream,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.faults import Target
from app.logs.synthetic.parts import Dep, Proc, Run
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("dns_resolution_failure")


def _hit_all_callers(
    scene: Scene, target: Dep, start: float, end: float, failure: str, share: float = 1.0
) -> None:
    outage(scene, target, start, end, failure, share=share)
    for workload in scene.callers(target):
        if workload.role == "api":
            for proc in main_procs(scene, workload):
                force_requests(scene, proc, start + 1, min(end, scene.duration) - 1, 2, through=target)


@scenario("dns.service_renamed", FAMILY_VARIANTS, prepare=prepare_internal_upstream)
def service_renamed(scene: Scene, family: str) -> Verdict:
    """The Service another team's API was reached by is gone (renamed or deleted): the name is NXDOMAIN."""
    target = dep(scene, "http", name="internal")
    core = upstream_weight(scene, target)
    start = incident_start(scene, 0.15, 0.5)
    _hit_all_callers(scene, target, start, scene.duration + 1, "dns_nxdomain")
    return Verdict(
        f"{target.target.host} no longer resolves (NXDOMAIN); every call from {api(scene, family).name} to it fails.",
        "critical" if core else "warning",
    )


def _prepare_any(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_api(spec, rng, family)
    if spec.postgres is None and not spec.mongodb:
        want_postgres(spec, "external", bouncer=False)


@scenario("dns.cluster_dns_timeout", FAMILY_VARIANTS, hard_case="other_words", prepare=_prepare_any)
def cluster_dns_timeout(scene: Scene, family: str) -> Verdict:
    """The cluster DNS stops answering: lookups of every name time out, whatever the client calls it."""
    start = incident_start(scene, 0.15, 0.5)
    end = scene.duration + 1 if scene.chance(0.6) else start + scene.rng.uniform(240, 900)
    share = scene.rng.uniform(0.5, 1.0)
    external = [item for item in scene.deps.values() if item.server is None]
    for item in external:
        _hit_all_callers(scene, item, start, end, "dns_timeout", share)
    names = ", ".join(sorted({item.target.host for item in external})[:3])
    return Verdict(
        f"Lookups through the cluster DNS (10.96.0.10) time out; {api(scene, family).name} cannot resolve {names} and its calls fail.",
        "critical" if share > 0.8 else "warning",
    )


def _prepare_external(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_api(spec, rng, family)
    want_upstream(spec, internal=False)
    only_dependency(spec, "http")
    spec.internal_upstream = False


@scenario("dns.external_host_typo", FAMILY_VARIANTS, hard_case="shared_symptom", prepare=_prepare_external)
def external_host_typo(scene: Scene, family: str) -> Verdict:
    """A release changes a third-party API's host to one that does not exist: NXDOMAIN from the new pods."""
    target = next(item for item in scene.deps.values() if item.name.startswith("upstream"))
    wrong = (
        target.target.host.replace("api.", "api-", 1)
        if target.target.host.startswith("api.")
        else "v2." + target.target.host
    )
    target.target = Target(
        "http", wrong, target.target.ip, target.target.port, scheme="https", san=target.target.san
    )
    core = upstream_weight(scene, target)
    _hit_all_callers(scene, target, incident_start(scene, 0.1, 0.5), scene.duration + 1, "dns_nxdomain")
    return Verdict(
        f"{api(scene, family).name} calls {wrong}, a name that does not exist (NXDOMAIN); those calls fail.",
        "critical" if core else "warning",
    )


@scenario(
    "dns.kafka_bootstrap", ("jvm", "python", "node"), hard_case="other_words", prepare=prepare_kafka_worker
)
def kafka_bootstrap(scene: Scene, family: str) -> Verdict:
    """The Kafka bootstrap name stops resolving: each client library reports it in its own words."""
    target = dep(scene, "kafka")
    _hit_all_callers(
        scene,
        target,
        incident_start(scene, 0.15, 0.5),
        scene.duration + 1,
        scene.pick(("dns_nxdomain", "dns_timeout")),
    )
    return Verdict(
        f"The Kafka bootstrap name {target.target.host} does not resolve; the {family} producers and consumers cannot connect.",
        "critical",
    )


def _prepare_web(spec: StackSpec, rng: random.Random, variant: str) -> None:
    spec.web = True


@scenario("dns.nginx_upstream_host", ("",), hard_case="other_words", prepare=_prepare_web)
def nginx_upstream_host(scene: Scene, variant: str) -> Verdict:
    """The front end's new nginx config names an upstream host that does not resolve: nginx refuses to start."""
    web = wanted(scene, "web")
    apis = scene.with_role("api")
    host = f"{apis[0].name if apis else 'backend'}-v2:{scene.pick((80, 8080))}"
    cited = {"done": False}

    def write(proc: Proc, run: Run, death: float) -> None:
        if not 0 <= run.start < scene.duration:
            return
        nginx = proc.logger
        line = nginx.error(
            "emerg",
            f'host not found in upstream "{host}" in /etc/nginx/conf.d/default.conf:{scene.rng.randint(6, 30)}',
            pid=1,
        )
        scene.log(
            run.start + 0.1, proc, [*nginx.startup()[:7], line], evidence=[7] if not cited["done"] else False
        )
        cited["done"] = True

    _procs, severity = failing_rollout(scene, web, write, run_seconds=(0.3, 1.2))
    return Verdict(
        f"New {web.name} pods exit at start-up: nginx cannot resolve its upstream {host}.", severity
    )


def _prepare_bouncer(spec: StackSpec, rng: random.Random, variant: str) -> None:
    want_postgres(spec, "external", bouncer=True)


@scenario("dns.pgbouncer_lookup", ("",), hard_case="causal_chain", prepare=_prepare_bouncer)
def pgbouncer_lookup(scene: Scene, variant: str) -> Verdict:
    """PgBouncer cannot resolve the database host: its clients only hear "pgbouncer cannot connect to server"."""
    bouncer = wanted(scene, "pgbouncer")
    upstream = dep(scene, "postgres", name="postgres")
    front = dep(scene, "postgres", name="pgbouncer")
    start = incident_start(scene, 0.15, 0.5)
    for proc in main_procs(scene, bouncer):
        at = start + scene.rng.uniform(0, 5)
        first = True
        while at < scene.duration:
            scene.log(
                at,
                proc,
                [proc.logger.line("WARNING", f"DNS lookup failed: {upstream.target.host}: result=0")],
                evidence=first,
            )
            first = False
            at += scene.rng.uniform(14, 16)
    _hit_all_callers(scene, front, start + 1, scene.duration + 1, "upstream_down")
    return Verdict(
        f"PgBouncer cannot resolve the database host {upstream.target.host}, so every client connection fails with 'pgbouncer cannot connect to server'.",
        "critical",
    )
