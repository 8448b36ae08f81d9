"""``tls_certificate_error``: a TLS handshake fails on a certificate: expired, untrusted, wrong name, not yet valid.

Clients say it in their runtime's words (Go's x509 errors, CPython's ``CERTIFICATE_VERIFY_FAILED``,
Java's PKIX and validity checks, Node's ``CERT_HAS_EXPIRED`` / ``ERR_TLS_CERT_ALTNAME_INVALID``,
PgJDBC's and libpq's SSL errors, Kafka clients' "SSL handshake failed"). A server whose own
certificate expired hears about it from its clients ("tls: bad certificate", SSL alert 45), while
cert-manager's events on the namespace's Certificate tell why it was not renewed.
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
    prepare_internal_upstream,
    prepare_kafka_worker,
    renewal_due,
    renewal_requested,
    upstream_weight,
    want_api,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.faults import CertDates, Target
from app.logs.synthetic.formats import iso_s
from app.logs.synthetic.parts import Dep, Outage
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("tls_certificate_error")

_DAY_NS = 86_400 * 1_000_000_000


def _cert_expiring(scene: Scene, at: float) -> CertDates:
    end = scene.timeline.ns(at) // 1_000_000_000 * 1_000_000_000
    return CertDates(end - 90 * _DAY_NS, end)


def _break(
    scene: Scene, target: Dep, start: float, failure: str, cert: CertDates | None, *, share: float = 1.0
) -> None:
    target.outages.append(Outage(start, scene.duration + 1, failure, share=share, cert=cert))
    for workload in scene.callers(target):
        if workload.role == "api":
            for proc in main_procs(scene, workload):
                force_requests(scene, proc, start + 1, scene.duration - 1, 2, through=target)


def _https(target: Dep) -> None:
    old = target.target
    target.target = Target(old.kind, old.host, old.ip, 8443, scheme="https", san=old.san or (old.host,))


@scenario("tls.upstream_expired", FAMILY_VARIANTS, prepare=prepare_internal_upstream)
def upstream_expired(scene: Scene, family: str) -> Verdict:
    """The certificate of another team's API expired mid-window: every client handshake fails from then on."""
    target = dep(scene, "http", name="internal")
    _https(target)
    core = upstream_weight(scene, target)
    start = incident_start(scene, 0.15, 0.5)
    _break(scene, target, start, "tls_expired", _cert_expiring(scene, start))
    return Verdict(
        f"The certificate of {host_of(target.target)} expired at {iso_s(scene.timeline.ns(start))}; {api(scene, family).name}'s calls fail the TLS handshake.",
        "critical" if core else "warning",
    )


@scenario("tls.unknown_ca", FAMILY_VARIANTS, hard_case="other_words", prepare=prepare_internal_upstream)
def unknown_ca(scene: Scene, family: str) -> Verdict:
    """The upstream's certificate is now issued by a new internal CA the client does not trust."""
    target = dep(scene, "http", name="internal")
    _https(target)
    core = upstream_weight(scene, target)
    _break(scene, target, incident_start(scene, 0.15, 0.5), "tls_unknown_ca", None)
    return Verdict(
        f"{api(scene, family).name} does not trust the certificate {host_of(target.target)} now presents (unknown issuer); its calls fail.",
        "critical" if core else "warning",
    )


@scenario(
    "tls.hostname_mismatch", FAMILY_VARIANTS, hard_case="shared_symptom", prepare=prepare_internal_upstream
)
def hostname_mismatch(scene: Scene, family: str) -> Verdict:
    """The service calls the upstream by a name its certificate does not cover."""
    target = dep(scene, "http", name="internal")
    old = target.target
    short = old.host.split(".")[0] + "." + old.host.split(".")[1] if "." in old.host else old.host
    san = (
        (f"{short}.svc.cluster.local", f"{short}.svc")
        if not old.host.endswith(".svc.cluster.local")
        else (f"{short}.svc", short)
    )
    target.target = Target(old.kind, old.host, old.ip, 8443, scheme="https", san=san)
    core = upstream_weight(scene, target)
    _break(scene, target, incident_start(scene, 0.1, 0.5), "tls_hostname", None)
    return Verdict(
        f"The certificate of the upstream is valid for {', '.join(san)}, not {old.host}; {api(scene, family).name}'s calls fail the handshake.",
        "critical" if core else "warning",
    )


@scenario(
    "tls.database_certificate",
    ("go", "jvm", "python"),
    hard_case="other_words",
    prepare=api_on_postgres("external"),
)
def database_certificate(scene: Scene, family: str) -> Verdict:
    """The database requires verified TLS (verify-full) and its server certificate no longer verifies."""
    target = dep(scene, "postgres")
    start = incident_start(scene, 0.15, 0.5)
    failure = scene.pick(("tls_expired", "tls_unknown_ca"))
    # Pooled connections opened before stay up; only new ones fail, so the share grows as the pool churns.
    share = scene.rng.uniform(0.3, 1.0)
    _break(scene, target, start, failure, _cert_expiring(scene, start), share=share)
    why = "expired" if failure == "tls_expired" else "is signed by a CA the client does not trust"
    return Verdict(
        f"The server certificate of the database {host_of(target.target)} {why}; {api(scene, family).name} cannot open verified connections.",
        "critical" if share > 0.7 else "warning",
    )


@scenario("tls.kafka_ssl", ("jvm", "python"), hard_case="other_words", prepare=prepare_kafka_worker)
def kafka_ssl(scene: Scene, family: str) -> Verdict:
    """The Kafka listener's certificate expired: clients report an SSL handshake failure, often worded as an authentication failure."""
    target = dep(scene, "kafka")
    start = incident_start(scene, 0.15, 0.5)
    _break(scene, target, start, "tls_expired", _cert_expiring(scene, start))
    return Verdict(
        f"The Kafka brokers' certificate at {host_of(target.target)} expired; the {family} clients fail the SSL handshake and stop producing and consuming.",
        "critical",
    )


@scenario("tls.not_yet_valid", ("go", "node"), hard_case="subtle", prepare=prepare_internal_upstream)
def not_yet_valid(scene: Scene, family: str) -> Verdict:
    """One node's clock lags behind: a freshly issued certificate is "not yet valid" for the pods on it."""
    target = dep(scene, "http", name="internal")
    _https(target)
    start = incident_start(scene, 0.1, 0.4)
    issued = scene.timeline.ns(start) // 1_000_000_000 * 1_000_000_000
    share = 1 / max(2, len(scene.cluster.nodes) - 1)
    _break(scene, target, start, "tls_not_yet_valid", CertDates(issued, issued + 90 * _DAY_NS), share=share)
    return Verdict(
        f"Calls to {host_of(target.target)} from pods on a node whose clock lags fail: the certificate renewed at {iso_s(issued)} is not yet valid there.",
        "warning",
    )


def _prepare_own(spec: StackSpec, rng: random.Random, variant: str) -> None:
    if variant == "nginx":
        spec.web = True
    else:
        want_api(spec, rng, "go")


@scenario("tls.own_certificate_expired", ("go", "nginx"), hard_case="causal_chain", prepare=_prepare_own)
def own_certificate_expired(scene: Scene, variant: str) -> Verdict:
    """The namespace's own serving certificate was not renewed (cert-manager failed) and expired; clients reject it."""
    target = api(scene, "go") if variant == "go" else scene.workload("web")
    assert target is not None
    secret = f"{target.name}-tls"
    cert = ObjectRef("Certificate", secret, scene.uuid(), "cert-manager.io/v1")
    expiry = incident_start(scene, 0.2, 0.5)
    attempts = sorted(scene.rng.uniform(0, expiry) for _ in range(scene.rng.randint(1, 3)))
    issuer = scene.pick(("letsencrypt-prod", "internal-ca", "vault-issuer"))
    reason = {
        "letsencrypt-prod": 'Failed to wait for order resource "{name}" to become ready: order is in "errored" state: Failed to finalize Order: 403 urn:ietf:params:acme:error:unauthorized: Error finalizing order :: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.{host}',
        "internal-ca": f'issuer "{issuer}" not ready: secret "internal-ca-key-pair" not found',
        "vault-issuer": "failed to sign certificate by vault: Error making API request. URL: PUT https://vault.vault.svc:8200/v1/pki/sign/apps Code: 403. Errors: * permission denied",
    }[issuer]
    host = f"{target.name}.{scene.org}.example"
    for number, at in enumerate(attempts, start=2):
        request = f"{secret}-{number}"
        renewal_due(scene, cert, at)
        renewal_requested(scene, cert, at + 0.3, request)
        text = reason.format(name=f"{request}-{scene.rng.randint(10**9, 4 * 10**9)}", host=host)
        scene.event(
            at + scene.rng.uniform(5, 60),
            cert,
            Reporter("cert-manager-certificates-issuing"),
            "Warning",
            "Failed",
            f"The certificate request has failed to complete and will be retried: {text}",
            evidence=number == 2,
        )
    procs = main_procs(scene, target)
    cited = 0
    for proc in procs:
        at = expiry + scene.rng.uniform(0, 20)
        while at < scene.duration:
            client = f"10.{scene.rng.randint(0, 9)}.{scene.rng.randint(0, 255)}.{scene.rng.randint(2, 250)}:{scene.port()}"
            if variant == "go":
                line = [
                    lambda ts, client=client: (
                        f"{iso_s(ts)[:10].replace('-', '/')} {iso_s(ts)[11:19]} http: TLS handshake error from {client}: remote error: tls: bad certificate"
                    )
                ]
            else:
                line = [
                    proc.logger.error(
                        "info",
                        f"SSL_do_handshake() failed (SSL: error:0A000415:SSL routines::sslv3 alert certificate expired:SSL alert number 45) while SSL handshaking, client: {client.split(':')[0]}, server: 0.0.0.0:8443",
                    )
                ]
            scene.log(at, proc, line, evidence=cited < 3)
            cited += 1
            at += scene.rng.expovariate(1 / 25)
    return Verdict(
        f"cert-manager failed to renew {secret} ({issuer}) and the certificate expired; clients of {target.name} now reject it during the handshake.",
        "critical",
    )


@scenario(
    "tls.client_certificate_rejected",
    ("go", "python"),
    hard_case="other_words",
    prepare=prepare_internal_upstream,
)
def client_certificate_rejected(scene: Scene, family: str) -> Verdict:
    """The upstream requires mutual TLS and rejects the client certificate the service presents (expired)."""
    target = dep(scene, "http", name="internal")
    _https(target)
    core = upstream_weight(scene, target)
    start = incident_start(scene, 0.15, 0.5)
    target.outages.append(Outage(start, scene.duration + 1, "tls_client_rejected"))
    for workload in scene.callers(target):
        if workload.role == "api":
            for proc in main_procs(scene, workload):
                force_requests(scene, proc, start + 1, scene.duration - 1, 2, through=target)
    return Verdict(
        f"{host_of(target.target)} rejects the client certificate of {api(scene, family).name} (expired) during the mTLS handshake; its calls fail.",
        "critical" if core else "warning",
    )
