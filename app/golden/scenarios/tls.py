"""Scenarios where a TLS handshake fails: expired, untrusted or mismatched certificates."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.noise import app_log, go_log, herring, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import ingress_failure
from app.golden.scenarios.window import EXTERNAL_HOSTS, Window

# --- tls_certificate_error -------------------------------------------------------------------------


@scenario("tls_certificate_error")
def tls_expired_go_client(w: Window) -> Verdict:
    """A Go client's TLS handshakes fail: the server certificate has expired."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    host = w.pick(EXTERNAL_HOSTS)
    expired = w.clock(-w.rng.uniform(600, 86400 * 3))
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(3, 6)):
        error = f'Post "https://{host}/v1/charge": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time {w.clock(at)} is after {expired}'
        w.add(
            at,
            pod,
            go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error),
            evidence=first,
        )
        first = False
    return Verdict(
        f"{host}'s certificate expired at {expired}; {pod.name}'s TLS handshakes fail.", "critical"
    )


@scenario("tls_certificate_error")
def tls_unknown_authority(w: Window) -> Verdict:
    """A Go client does not trust the CA that signed an internal service's certificate."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    target = w.pick(
        (
            "vault.vault.svc:8200",
            "keycloak.auth.svc:8443",
            "ledger.payments.svc:9443",
            "minio.storage.svc:9000",
        )
    )
    ca = w.pick(("acme-internal-ca", "cluster-issuer-ca", "corp-root-ca-2026"))
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(3, 6)):
        error = f'Get "https://{target}/v1/health": tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error" while trying to verify candidate authority certificate "{ca}")'
        w.add(
            at, pod, go_log(pod, "error", "clients/tls.go:33", "request failed", error=error), evidence=first
        )
        first = False
    return Verdict(f"{pod.name} does not trust the CA that signed {target}'s certificate ({ca}).", "critical")


@scenario("tls_certificate_error")
def tls_hostname_mismatch(w: Window) -> Verdict:
    """The certificate is valid for other names than the one dialled."""
    pod = w.app(w.pick(("go", "node")))
    w.crowd(pod, 1, 3)
    good, bad = w.pick(
        (
            ("*.shop.example", "api.shop.internal"),
            ("payments.example.com", "pay.example.com"),
            ("keycloak.auth.svc", "keycloak.auth.svc.cluster.local"),
            ("*.eu.example.net", "api.us.example.net"),
        )
    )
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(3, 6)):
        if pod.runtime == "go":
            line = go_log(
                pod,
                "error",
                "clients/http.go:71",
                "outbound request failed",
                error=f'Get "https://{bad}/": tls: failed to verify certificate: x509: certificate is valid for {good}, not {bad}',
            )
        else:
            line = f.pino(
                50,
                "outbound request failed",
                pod.name,
                err={
                    "type": "Error",
                    "message": f"Hostname/IP does not match certificate's altnames: Host: {bad}. is not in the cert's altnames: DNS:{good}",
                    "code": "ERR_TLS_CERT_ALTNAME_INVALID",
                },
            )
        w.add(at, pod, line, evidence=first)
        first = False
    return Verdict(f"{pod.name} connects to {bad} but the certificate is only valid for {good}.", "critical")


@scenario("tls_certificate_error", "causal_chain")
def tls_cert_expired_then_502(w: Window) -> Verdict:
    """cert-manager reports an expired certificate; five minutes later the ingress returns 502s."""
    ingress = w.platform("ingress-nginx")
    pod = w.app()
    cm = w.platform("cert-manager")
    w.crowd(pod, 0, 1)
    w.ensure_duration(w.rng.uniform(600, 840))
    secret = f"{pod.app}-tls"
    expired_at = w.rng.uniform(40, 120)
    w.add(
        expired_at - w.rng.uniform(10, 30),
        cm,
        f.logr(
            "E",
            "sync.go:190",
            "cert-manager/challenges",
            "propagation check failed",
            err="wrong status code '404', expected '200'",
            key=f"{pod.namespace}/{secret}-1-{w.rng.randint(10**9, 4 * 10**9)}-0",
            dnsName=f"{pod.app}.example.com",
            type="HTTP-01",
        ),
    )
    w.add(
        expired_at,
        cm,
        f.logr(
            "E",
            "readiness_controller.go:136",
            "cert-manager/certificates-readiness",
            "certificate has expired",
            key=f"{pod.namespace}/{secret}",
            notAfter=w.clock(expired_at - 1),
        ),
        evidence=True,
    )
    first = True
    for at in w.spread(expired_at + 300, w.duration_s - 3, w.rng.randint(4, 7)):
        message = f'*{w.rng.randint(10**5, 10**7)} SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed) while SSL handshaking to upstream, client: {w.client_ip()}, server: {pod.app}.example.com, request: "GET {request_path(w, pod.namespace)} HTTP/2.0", upstream: "https://{pod.ip}:8443/", host: "{pod.app}.example.com"'
        w.add(at, ingress, f.nginx_error("error", message), evidence=first)
        w.add(
            at + 0.001,
            ingress,
            f.nginx_access(
                w.client_ip(),
                f"GET {request_path(w, pod.namespace)} HTTP/2.0",
                502,
                150,
                f"{pod.namespace}-{pod.app}-8443",
                f"{pod.ip}:8443",
                w.rng.uniform(0.003, 0.02),
                w.hexid(32),
            ),
        )
        first = False
    return Verdict(
        f"The certificate in {secret} expired (renewal failed its HTTP-01 check); five minutes later the ingress gets 502s because upstream TLS verification fails.",
        "critical",
    )


@scenario("tls_certificate_error")
def tls_java_pkix(w: Window) -> Verdict:
    """A Java client fails PKIX path building against a partner API."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(2, 3)):
        lines = [
            f.spring(
                pod.app,
                "ERROR",
                f"nio-8080-exec-{w.rng.randint(1, 10)}",
                "c.e.app.client.PartnerClient",
                f"Request to https://{host} failed",
            ),
            f.jvm(
                "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"
            ),
            f.jvm("\tat java.base/sun.security.ssl.Alert.createSSLException(Alert.java:130)"),
            f.jvm("\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:383)"),
            f.jvm(
                "Caused by: sun.security.validator.ValidatorException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"
            ),
        ]
        w.block(at, pod, lines, evidence=(0, 1) if first else ())
        first = False
    return Verdict(
        f"{pod.name} does not trust {host}'s certificate chain (PKIX path building failed).", "critical"
    )


@scenario("tls_certificate_error")
def tls_node_expired(w: Window) -> Verdict:
    """A Node.js client fails TLS verification (expired, unverifiable or self-signed chain)."""
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    host = w.pick(EXTERNAL_HOSTS)
    code, text = w.pick(
        (
            ("CERT_HAS_EXPIRED", "certificate has expired"),
            ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
            ("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"),
        )
    )
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(2, 4)):
        w.block(
            at,
            pod,
            [
                f.node_plain(f"Error: {text}"),
                f.node_plain("    at TLSSocket.onConnectSecure (node:_tls_wrap:1674:34)"),
                f.node_plain("    at TLSSocket.emit (node:events:519:28)"),
                f.node_plain(f"  code: '{code}'"),
            ],
            evidence=(0, 3) if first else (),
        )
        w.add(at + 0.01, pod, f.pino(50, f"webhook delivery to {host} failed", pod.name, err={"code": code}))
        first = False
    return Verdict(f"{pod.name}'s TLS connections to {host} fail: {text} ({code}).", "critical")


@scenario("tls_certificate_error")
def tls_python_requests(w: Window) -> Verdict:
    """requests fails with CERTIFICATE_VERIFY_FAILED (certificate has expired)."""
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(2, 4)):
        lines = [
            f.python_log("ERROR", f"{pod.app.replace('-', '_')}.client", f"call to {host} failed"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain(
                '  File "/usr/local/lib/python3.12/site-packages/urllib3/connectionpool.py", line 466, in _make_request'
            ),
            f.python_plain(
                "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)"
            ),
            f.python_plain(
                f"requests.exceptions.SSLError: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v2/token (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)')))"
            ),
        ]
        w.block(at, pod, lines, evidence=(3, 4) if first else ())
        first = False
    return Verdict(
        f"{pod.name} cannot call {host}: its certificate has expired (CERTIFICATE_VERIFY_FAILED).", "critical"
    )


@scenario("tls_certificate_error", "other_words")
def tls_webhook_unknown_ca(w: Window) -> Verdict:
    """Flux cannot apply because an admission webhook's certificate is untrusted."""
    pod = w.app()
    flux = w.platform("flux")
    w.crowd(pod, 1, 2)
    name = w.pick(("apps", "infrastructure", pod.namespace))
    webhook = w.pick(
        (
            ("webhook.cert-manager.io", "cert-manager-webhook.cert-manager.svc:443/validate"),
            ("validate.kyverno.svc-fail", "kyverno-svc.kyverno.svc:443/validate/fail"),
            (
                "vingress.elbv2.k8s.aws",
                "aws-load-balancer-webhook-service.kube-system.svc:443/validate-networking-v1-ingress",
            ),
        )
    )
    first = True
    for at in w.spread(20, w.duration_s - 5, w.rng.randint(2, 3)):
        error = f'{pod.app.capitalize()} "{pod.app}" is invalid: Internal error occurred: failed calling webhook "{webhook[0]}": failed to call webhook: Post "https://{webhook[1]}?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority'
        w.add(
            at,
            flux,
            f.flux(
                "error",
                "kustomization",
                "Kustomization",
                name,
                f"Reconciliation failed after {w.rng.uniform(1, 9):.1f}s, next try in 5m0s",
                error=error,
                revision=f"main@sha1:{w.hexid(40)}",
            ),
            evidence=first,
        )
        first = False
    w.add(w.rng.uniform(10, w.duration_s - 10), pod, herring(w, pod))
    return Verdict(
        f"Flux cannot apply {name}: the {webhook[0]} admission webhook's certificate is signed by an unknown authority.",
        "warning",
    )


_ENVOY_VERIFY_FAILED = (
    "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end"
)


@scenario("tls_certificate_error", "causal_chain")
def tls_expired_upstream_503_chain(w: Window) -> Verdict:
    """An upstream's certificate expired; callers only see it as unavailable (Envoy 503 UF or nginx 502)."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    host = w.pick(EXTERNAL_HOSTS)
    envoy = w.chance(0.5)
    proxy = w.sidecar(pod, "istio-proxy", "envoy") if envoy else w.platform("ingress-nginx")
    first = True
    for at in w.spread(w.duration_s * 0.15, w.duration_s - 4, w.rng.randint(3, 5)):
        if not envoy:
            # The ingress re-encrypts to the pod (backend-protocol HTTPS) and verifies its certificate.
            reason = "upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream"
            ingress_failure(w, proxy, pod, at, reason, https=True, evidence=first)
            first = False
            continue
        upstream = (
            f"{w.pick(('52.28', '3.64', '104.18'))}.{w.rng.randint(0, 255)}.{w.rng.randint(2, 254)}:443"
        )
        access = f.envoy_access(
            "POST /v1/charges HTTP/1.1",
            503,
            "UF",
            "upstream_reset_before_response_started{connection_failure}",
            91 + len(_ENVOY_VERIFY_FAILED),
            w.rng.randint(8, 40),
            f"{host}:443",
            upstream,
            w.uuid(),
            transport_failure=_ENVOY_VERIFY_FAILED,
        )
        w.add(at, proxy, access, evidence=first)
        body = f"upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: {_ENVOY_VERIFY_FAILED}"
        w.add(
            at + 0.003,
            pod,
            app_log(w, pod, "error", f"{host} unavailable, will retry", status=503, body=body),
        )
        first = False
    where = (
        f"{host}, which {pod.app} calls through its Envoy sidecar,"
        if envoy
        else f"{pod.app} (behind the ingress)"
    )
    return Verdict(
        f"The certificate of {where} has expired; the 503s and 502s are failed certificate verifications, not an outage.",
        "critical",
    )


@scenario("tls_certificate_error", "red_herring")
def tls_with_cross_class_decoys(w: Window) -> Verdict:
    """Certificate verification fails next to a refused-then-reconnected cache and other decoys."""
    pod = w.app(w.pick(("go", "jvm")))
    w.crowd(pod, 1, 2)
    host = w.pick(EXTERNAL_HOSTS)
    expired = w.clock(-w.rng.uniform(3600, 86400 * 2))
    first = True
    for at in w.spread(w.duration_s * 0.1, w.duration_s - 4, w.rng.randint(2, 4)):
        if pod.runtime == "go":
            error = f'Post "https://{host}/v1/events": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time {w.clock(at)} is after {expired}'
            w.add(
                at,
                pod,
                go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error),
                evidence=first,
            )
        else:
            lines = [
                f.spring(
                    pod.app,
                    "ERROR",
                    "scheduling-1",
                    "c.e.app.client.PartnerClient",
                    f"Request to https://{host} failed",
                ),
                f.jvm(
                    "javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed"
                ),
                f.jvm(f"Caused by: java.security.cert.CertificateExpiredException: NotAfter: {expired}"),
            ]
            w.block(at, pod, lines, evidence=(1, 2) if first else ())
        first = False
    spoken = add_decoys(
        w,
        "tls_certificate_error",
        w.rng.randint(2, 3),
        prefer=("dependency_unavailable", "dns_resolution_failure", "permission_denied"),
    )
    return Verdict(
        f"{host}'s certificate expired at {expired}, so {pod.name}'s calls fail verification; {describe_decoys(spoken)} are not the cause.",
        "critical",
    )


@scenario("tls_certificate_error", "paraphrase")
def tls_handshake_paraphrase(w: Window) -> Verdict:
    """A handshake fails in other words: Go's server log, Kafka's 'failed authentication', gRPC UNAVAILABLE."""
    kind = w.pick(("go_server", "kafka", "python_grpc", "nginx_issuer"))
    pod = w.app({"go_server": "go", "kafka": "jvm", "python_grpc": "python", "nginx_issuer": None}[kind])
    w.crowd(pod, 1, 3)
    target = w.pick(("ledger", "accounts", "risk-engine"))
    first = True
    for at in w.spread(w.duration_s * 0.1, w.duration_s - 4, w.rng.randint(3, 5)):
        if kind == "go_server":
            client = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:{w.port()}"
            reason = w.pick(
                ("remote error: tls: bad certificate", "remote error: tls: unknown certificate authority")
            )
            line = f.go_stdlog(f"http: TLS handshake error from {client}: {reason}")
            w.add(at, pod, line, evidence=first)
        elif kind == "kafka":
            broker = w.rng.randint(0, 2)
            message = f"[Producer clientId={pod.app}-producer-1] Connection to node {broker} (kafka-{broker}.kafka-headless.data.svc.cluster.local/10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:9093) failed authentication due to: SSL handshake failed"
            w.add(
                at,
                pod,
                f.spring(
                    pod.app,
                    "ERROR",
                    "kafka-producer-network-thread | producer-1",
                    "org.apache.kafka.clients.NetworkClient",
                    message,
                ),
                evidence=first,
            )
        elif kind == "python_grpc":
            details = f"failed to connect to all addresses; last error: UNKNOWN: ipv4:{w.service_ip()}:443: Ssl handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"
            message = f'{target} call failed: <_InactiveRpcError of RPC that terminated with: status = StatusCode.UNAVAILABLE details = "{details}">'
            w.add(
                at, pod, f.python_log("ERROR", f"{pod.app.replace('-', '_')}.grpc", message), evidence=first
            )
        else:
            reason = "upstream SSL certificate verify error: (20:unable to get local issuer certificate) while SSL handshaking to upstream"
            ingress_failure(w, w.platform("ingress-nginx"), pod, at, reason, https=True, evidence=first)
        first = False
    what = {
        "go_server": f"clients reject {pod.app}'s server certificate (the Go server logs their TLS alerts)",
        "kafka": f"{pod.app}'s Kafka producer fails the SSL handshake with the brokers",
        "python_grpc": f"{pod.app}'s gRPC calls to {target} fail certificate verification",
        "nginx_issuer": f"the ingress cannot verify {pod.app}'s certificate chain (issuer missing)",
    }[kind]
    return Verdict(f"TLS handshakes fail: {what}.", "critical")


@scenario("tls_certificate_error", "subtle")
def tls_not_yet_valid_clock_skew(w: Window) -> Verdict:
    """A freshly renewed certificate is 'not yet valid' on one node whose clock lags; renewal itself looks fine."""
    pod = w.app("go")
    cm = w.platform("cert-manager")
    w.crowd(pod, 1, 2)
    secret = f"{w.pick(('ledger', 'accounts', 'vault'))}-tls"
    w.ensure_duration(w.rng.uniform(600, 800))
    renewed = w.rng.uniform(220, 300)
    w.add(
        renewed,
        w.events(),
        f.kube_event(
            "Normal", "Issuing", f"certificate/{secret}", "The certificate has been successfully issued"
        ),
    )
    w.add(
        renewed - 0.2,
        cm,
        f.logr(
            "I",
            "trigger_controller.go:215",
            "cert-manager/certificates-trigger",
            "Certificate must be re-issued",
            key=f"{pod.namespace}/{secret}",
            reason="Renewing",
            message=f"Renewing certificate as renewal was scheduled at {w.clock(renewed - 1)}",
        ),
    )
    skew = w.rng.randint(180, 900)
    w.add(
        renewed - w.rng.uniform(60, 200),
        w.kernel(pod.node),
        f.plain("chronyd", f"chronyd[{w.rng.randint(500, 900)}]: Can't synchronise: no selectable sources"),
    )
    target = f"{secret.removesuffix('-tls')}.{pod.namespace}.svc:8443"
    first = True
    # Only until the lagging clock reaches the certificate's notBefore.
    for at in w.spread(renewed + 5, min(w.duration_s - 4, renewed + skew - 10), w.rng.randint(2, 4)):
        error = f'Get "https://{target}/v1/balance": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time {w.clock(at - skew)} is before {w.clock(renewed - 2)}'
        w.add(
            at, pod, go_log(pod, "error", "clients/tls.go:33", "request failed", error=error), evidence=first
        )
        first = False
    return Verdict(
        f"{pod.name}'s node clock lags by {skew // 60} minutes (chrony cannot sync), so the just-renewed {secret} certificate is not yet valid there.",
        "warning",
    )
