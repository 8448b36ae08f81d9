"""Scenarios where a TLS handshake fails: expired, untrusted or mismatched certificates."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.noise import go_log, herring, request_path
from app.golden.scenarios.registry import Verdict, scenario
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
