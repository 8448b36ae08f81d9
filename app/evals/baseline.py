"""A keyword/regex analyzer: what an ops engineer's grep finds, as the floor every model must beat.

The rules come from the log formats real clusters produce (kubelet and event reasons, containerd,
CoreDNS, ingress-nginx/Envoy, PostgreSQL, Redis, JVM, Go, Python, Node, cert-manager), not from any
generator's sentences. It reads every line, so it is not limited by a context budget; it has no notion
of time order, cause and effect or benign noise, which is where models are meant to do better.

``logtriage golden baseline`` prints its accuracy and macro-F1 on golden files.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from app.evals import metrics
from app.evals.metrics import ClassMetrics, ItemResult
from app.golden.jsonl import dataset_version
from app.golden.schema import GoldenExample
from app.logs.models import LogEntry
from app.rca import MAX_EVIDENCE, MAX_SUMMARY_CHARS, RootCauseAnalysis
from app.taxonomy import ROOT_CAUSES, RootCause

BASELINE_MODEL_NAME = "baseline-regex"

# A class needs this much weighted evidence before the baseline calls a failure: one stray
# "timeout" or "forbidden" in an otherwise quiet window is noise a human would shrug at too.
MIN_SCORE = 2.0
# Repeats of one rule stop adding score after this many lines, so a retry loop printing the same
# error fifty times does not drown out the one line that names the real cause.
MAX_COUNTED_REPEATS = 3
# Classes that say *that* a pod is unwell rather than *why*: failing probes follow nearly every other
# failure, so they are the answer only when nothing else in the window reaches MIN_SCORE.
SYMPTOMS: frozenset[str] = frozenset({"probe_failure"})


@dataclass(frozen=True)
class Rule:
    """One grep: lower-cased lines matching ``pattern`` are evidence for ``cause``, worth ``weight`` each.

    A rule that ``claims`` its lines names what the kubelet or a controller already diagnosed (an event
    reason such as FailedMount); the error text quoted inside such a line ("no such host", "connection
    refused", "permission denied") is detail of that diagnosis, so other classes do not score the line.
    """

    cause: RootCause
    name: str
    pattern: re.Pattern[str]
    weight: float
    claims: bool = False


_ESCAPE_OR_TEXT = re.compile(r"\\.|[^\\]+")


def _rule(cause: RootCause, name: str, pattern: str, weight: float, *, claims: bool = False) -> Rule:
    # Case-insensitive by matching a lower-cased pattern against lower-cased lines: re.IGNORECASE makes
    # Python's literal search several times slower. Escapes (\S, \W, \d) keep their case.
    lowered = _ESCAPE_OR_TEXT.sub(lambda part: part[0] if part[0][0] == "\\" else part[0].lower(), pattern)
    return Rule(cause=cause, name=name, pattern=re.compile(lowered), weight=weight, claims=claims)


# Ordered from the earliest cause in a failure chain to the latest symptom: a pod that cannot be
# scheduled never pulls, one that cannot pull never mounts or starts, and almost everything ends in
# failing probes. Equal scores go to the class listed first.
RULES: tuple[Rule, ...] = (
    # --- scheduling_failure: scheduler events and cluster-autoscaler.
    _rule("scheduling_failure", "FailedScheduling", r"\bFailedScheduling\b", 3, claims=True),
    _rule("scheduling_failure", "0/N nodes are available", r"\b0/\d+ nodes are available\b", 3, claims=True),
    _rule(
        "scheduling_failure",
        "Insufficient resource",
        r"\bInsufficient (?:cpu|memory|pods|ephemeral-storage|nvidia)",
        2,
    ),
    _rule(
        "scheduling_failure",
        "untolerated taint",
        r"untolerated taint|had taints? .{0,80}that the pod didn't tolerate",
        2,
    ),
    _rule(
        "scheduling_failure",
        "affinity mismatch",
        r"didn't match (?:pod's )?node (?:affinity|selector)|didn't match pod (?:anti-)?affinity",
        2,
    ),
    _rule(
        "scheduling_failure",
        "unbound PVC",
        r"unbound immediate PersistentVolumeClaims|didn't find available persistent volumes",
        2,
    ),
    _rule(
        "scheduling_failure",
        "no scale-up",
        r"NotTriggerScaleUp|pod didn't trigger scale-up|max node group size reached",
        2,
    ),
    _rule(
        "scheduling_failure",
        "volume provisioning failed",
        r"\bProvisioningFailed\b|failed to provision volume",
        2,
    ),
    # --- image_pull_error: kubelet events and containerd.
    _rule(
        "image_pull_error",
        "ErrImagePull/ImagePullBackOff",
        r"\b(?:ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull)\b",
        3,
        claims=True,
    ),
    _rule(
        "image_pull_error",
        "failed to pull image",
        r"Failed to pull image|Back-off pulling image|PullImage .{0,80} failed",
        3,
        claims=True,
    ),
    _rule(
        "image_pull_error",
        "manifest unknown",
        r"manifest unknown|manifest for \S+ not found|repository does not exist|pull access denied",
        3,
    ),
    _rule(
        "image_pull_error",
        "registry refused",
        r"failed to resolve reference|toomanyrequests|failed to fetch (?:anonymous )?token",
        2,
    ),
    # --- volume_mount_failure: kubelet volume manager, attach/detach controller, CSI drivers.
    _rule(
        "volume_mount_failure",
        "MountVolume failed",
        r"MountVolume\.\w+ failed|\bFailedMount\b|Unable to attach or mount volumes",
        3,
        claims=True,
    ),
    _rule(
        "volume_mount_failure",
        "attach failed",
        r"\bFailedAttachVolume\b|AttachVolume\.Attach failed|Multi-Attach error",
        3,
        claims=True,
    ),
    _rule(
        "volume_mount_failure",
        "CSI mount error",
        r"\b(?:NodeStageVolume|NodePublishVolume|MountDevice)\b.{0,80}(?:failed|error)",
        2,
    ),
    _rule(
        "volume_mount_failure",
        "mount(8) failed",
        r"wrong fs type, bad option, bad superblock|mount failed: exit status",
        2,
    ),
    # --- node_resource_pressure: kubelet eviction manager and node conditions.
    _rule(
        "node_resource_pressure",
        "Evicted",
        r"\bEvicted\b|\bEvicting\b|eviction manager|The node was low on resource",
        3,
        claims=True,
    ),
    _rule(
        "node_resource_pressure",
        "node pressure",
        r"\b(?:Disk|Memory|PID)Pressure\b|NodeHas(?:Disk|Insufficient)(?:Pressure|Memory|PID)",
        3,
    ),
    _rule(
        "node_resource_pressure",
        "disk full",
        r"No space left on device|\bENOSPC\b|FreeDiskSpaceFailed|ImageGCFailed",
        2,
    ),
    _rule("node_resource_pressure", "attempting to reclaim", r"attempting to reclaim \w+", 2),
    # --- oom_killed: kubelet/container status, kernel, runtimes hitting their limit.
    _rule("oom_killed", "OOMKilled", r"\bOOMKill(?:ed|ing)\b", 3),
    _rule(
        "oom_killed",
        "exit code 137",
        r"\bexit(?:ed)?[ _]?(?:code|status)\W{0,3}137\b|exited with (?:code|status) 137\b",
        2,
    ),
    _rule(
        "node_resource_pressure",
        "pressure taint",
        r"node\.kubernetes\.io/(?:memory|disk|pid)-pressure",
        3,
    ),
    _rule(
        "node_resource_pressure",
        "cannot create threads",
        r"failed to create new OS thread|unable to create native thread|can't start new thread|Resource temporarily unavailable",
        2,
    ),
    _rule(
        "oom_killed",
        "kernel OOM killer",
        r"invoked oom-killer|Out of memory: Kill(?:ed)? process|Memory cgroup out of memory|oom-kill:",
        3,
    ),
    _rule(
        "oom_killed",
        "runtime out of memory",
        r"java\.lang\.OutOfMemoryError|JavaScript heap out of memory|fatal error: runtime: out of memory",
        3,
    ),
    _rule("oom_killed", "MemoryError", r"\bMemoryError\b", 1),
    # --- crash_config_error: start-up refusing its configuration.
    _rule(
        "crash_config_error",
        "APPLICATION FAILED TO START",
        r"APPLICATION FAILED TO START|Could not resolve placeholder",
        3,
    ),
    _rule(
        "oom_killed",
        "child killed by SIGKILL",
        r"(?:was sent|exited with|terminated by) (?:SIGKILL|signal 9)|exited on signal 9|signal 9 \(SIGKILL\)",
        3,
    ),
    _rule(
        "crash_config_error",
        "CreateContainerConfigError",
        r"\bCreateContainerConfigError\b|couldn't find key \S+ in (?:Secret|ConfigMap)",
        3,
        claims=True,
    ),
    _rule(
        "crash_config_error",
        "missing env var",
        r"(?:environment variable|env var)\b.{0,60}\b(?:not set|missing|required|is empty|undefined)|(?:missing|required) (?:environment variable|env var)",
        3,
    ),
    _rule(
        "crash_config_error",
        "invalid flag",
        r"flag provided but not defined|unknown (?:shorthand )?flag|invalid (?:value|argument) \S* ?for (?:flag|-)",
        3,
    ),
    _rule(
        "crash_config_error",
        "invalid config",
        r"invalid (?:config(?:uration)?|setting)|config(?:uration)? (?:error|is invalid|validation failed)|failed to (?:load|parse|read) config",
        2,
    ),
    _rule(
        "crash_config_error",
        "server config error",
        r"FATAL CONFIG FILE ERROR|invalid value for parameter|\[emerg\]|error initializing configuration|Unrecognized VM option",
        3,
    ),
    _rule(
        "crash_config_error",
        "settings refused",
        r"Failed to bind properties|Failed to configure a DataSource|validation error for Settings|ImproperlyConfigured|Missing environment variables|cannot load config file|configuration file \S+ contains errors",
        3,
    ),
    _rule(
        "crash_config_error",
        "unparsable setting",
        r"missing unit in duration|unknown unit \S+ in duration|yaml: line \d+:|ScannerError|in JSON at position \d+|ERR_INVALID_URL",
        2,
    ),
    _rule(
        "crash_config_error",
        "env var source missing",
        r"Error: (?:secret|configmap) \\?\"[^\"\\]+\\?\" not found",
        3,
        claims=True,
    ),
    # --- tls_certificate_error: Go x509, OpenSSL, JSSE, Node, cert-manager.
    _rule("tls_certificate_error", "x509", r"\bx509:", 3),
    _rule(
        "tls_certificate_error",
        "certificate invalid",
        r"certificate (?:has )?expired|certificate is not yet valid|unknown (?:certificate )?authority|self[- ]signed certificate",
        3,
    ),
    _rule(
        "tls_certificate_error",
        "verify failed",
        r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|unable to get local issuer certificate|PKIX path building failed|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID",
        3,
    ),
    _rule(
        "tls_certificate_error",
        "TLS handshake",
        r"SSLHandshakeException|tls: (?:bad certificate|handshake failure|failed to verify)|TLS handshake (?:error|failed)",
        1,
    ),
    _rule(
        "tls_certificate_error",
        "cert-manager not ready",
        r"certificate .{0,60}(?:not ready|failed to renew|renewal failed)|Failed to (?:create|finalize) Order|Error presenting challenge",
        2,
    ),
    _rule(
        "tls_certificate_error",
        "certificate rejected",
        r"PKIX path validation failed|CertificateExpiredException|CertificateNotYetValidException|certificate_expired|alert certificate expired|tls: bad certificate|SSL handshake failed|No subject alternative DNS name|Hostname mismatch",
        3,
    ),
    # --- permission_denied: RBAC, filesystems, service authentication.
    _rule(
        "permission_denied",
        "RBAC forbidden",
        r"\bforbidden\b.{0,120}\bcannot \w+ resource\b|\bis forbidden\b",
        3,
    ),
    _rule(
        "permission_denied",
        "permission denied",
        r"permission denied|\bEACCES\b|operation not permitted|\bEPERM\b",
        2,
    ),
    _rule(
        "permission_denied",
        "authentication failed",
        r"authentication failed|Access denied for user|\bNOAUTH\b|\bWRONGPASS\b|invalid (?:username or )?password",
        3,
    ),
    _rule(
        "permission_denied",
        "unauthorized",
        r"\b401 Unauthorized\b|\b403 Forbidden\b|\bAccessDenied(?:Exception)?\b|not authorized to perform",
        2,
    ),
    _rule(
        "permission_denied",
        "broker or database refused",
        r"\bACCESS_REFUSED\b|login refused|InsufficientPrivilege|has wrong ownership",
        3,
    ),
    # --- dns_resolution_failure: CoreDNS and every client library's way of saying it.
    _rule("dns_resolution_failure", "NXDOMAIN/SERVFAIL", r"\b(?:NXDOMAIN|SERVFAIL)\b", 2),
    _rule("dns_resolution_failure", "no such host", r"no such host|server misbehaving", 3),
    _rule(
        "dns_resolution_failure",
        "resolver failure",
        r"Temporary failure in name resolution|Name or service not known|\b(?:EAI_AGAIN|ENOTFOUND)\b|UnknownHostException|could not translate host name|Name does not resolve",
        3,
    ),
    _rule(
        "dns_resolution_failure",
        "timeout on :53",
        r":53\b.{0,40}(?:i/o timeout|connection refused)|lookup \S+ on \S+:53",
        3,
    ),
    _rule(
        "dns_resolution_failure",
        "DNS lookup failed",
        r"DNS (?:lookup|resolution) failed",
        3,
    ),
    # --- dependency_unavailable: a database, cache, queue or upstream refuses or stalls.
    _rule("dependency_unavailable", "connection refused", r"connection refused|\bECONNREFUSED\b", 2),
    _rule(
        "dependency_unavailable",
        "timeout to dependency",
        r"^(?!.*:53\b).*(?:i/o timeout|connection timed out|\bETIMEDOUT\b|context deadline exceeded|timed out)",
        1,
    ),
    _rule(
        "dependency_unavailable",
        "known dependency port",
        r"(?:dial tcp|connect to|connecting to|connection to)\s\S*:(?:5432|3306|6379|27017|9092|5672|9200|11211|2181|4222)\b",
        2,
    ),
    _rule(
        "dependency_unavailable",
        "database unreachable",
        r"could not connect to server|Is the server running on host|Communications link failure|Connection is not available, request timed out|the database system is (?:starting up|shutting down)",
        2,
    ),
    _rule(
        "dependency_unavailable",
        "cache/queue unreachable",
        r"Error connecting to Redis|Could not connect to Redis|redis\.exceptions\.ConnectionError|NoBrokersAvailable|Broker may not be available",
        2,
    ),
    _rule(
        "dependency_unavailable",
        "no server to talk to",
        r"Node may not be available|server selection (?:error|timeout)|ServerSelectionTimeoutError|MongoServerSelectionError|MongoTimeoutException|too many clients|max number of clients reached",
        2,
    ),
    _rule(
        "dependency_unavailable",
        "upstream failed",
        r"upstream connect error|no healthy upstream|upstream timed out|while connecting to upstream|upstream prematurely closed",
        2,
    ),
    _rule(
        "dependency_unavailable",
        "connection reset",
        r"connection reset by peer|\bECONNRESET\b|broken pipe|server closed the connection unexpectedly",
        1,
    ),
    _rule(
        "dependency_unavailable",
        "5xx from gateway",
        r"\" 50[234] |\b50[234] (?:Bad Gateway|Service Unavailable|Gateway Timeout)\b",
        1,
    ),
    # --- application_exception: the program's own failure, in each runtime's words.
    _rule("application_exception", "Go panic", r"\bpanic:|goroutine \d+ \[running\]|runtime error:", 3),
    _rule("application_exception", "Python traceback", r"Traceback \(most recent call last\)", 2),
    _rule(
        "application_exception",
        "Python error",
        r"\b(?:KeyError|ValueError|TypeError|AttributeError|ZeroDivisionError|IndexError|AssertionError|RecursionError)\b",
        2,
    ),
    _rule(
        "application_exception",
        "JVM exception",
        r"NullPointerException|IndexOutOfBoundsException|IllegalStateException|IllegalArgumentException|ClassCastException|ArithmeticException|Exception in thread",
        2,
    ),
    _rule(
        "application_exception",
        "Node error",
        r"Cannot read propert(?:y|ies) of (?:undefined|null)|is not a function|UnhandledPromiseRejection|Uncaught \w*Error",
        2,
    ),
    _rule("application_exception", "crash signal", r"\bSIGSEGV\b|segmentation fault|core dumped", 2),
    _rule(
        "application_exception",
        "unhandled exception",
        r"unhandled exception|uncaught exception|\b500 Internal Server Error\b",
        1,
    ),
    _rule(
        "application_exception",
        "runtime gave up",
        r"StackOverflowError|Maximum call stack size exceeded|all goroutines are asleep|concurrent map (?:writes|read and map write)",
        3,
    ),
    _rule(
        "application_exception",
        "schema mismatch",
        r"column \"[^\"]+\" (?:of relation \"[^\"]+\" )?does not exist",
        2,
    ),
    # --- probe_failure: the kubelet's probes; last, since most failures end here.
    _rule(
        "probe_failure",
        "probe failed",
        # The event ("Liveness probe failed: ...") and the kubelet's own prober.go line
        # ("Probe failed" probeType="Liveness" ... output="...") say the same thing.
        r"\b(?:Liveness|Readiness|Startup) probe (?:failed|errored)|\"Probe (?:failed|errored)\" probeType=",
        2,
        claims=True,
    ),
    _rule(
        "probe_failure",
        "failed probe, restarting",
        r"failed (?:liveness|readiness|startup) probe",
        2,
        claims=True,
    ),
    _rule("probe_failure", "Unhealthy", r"\bUnhealthy\b", 1),
)

# Each cause's place in the failure chain: the position of its first rule.
_CAUSAL_ORDER: dict[RootCause, int] = {
    cause: position for position, cause in enumerate(dict.fromkeys(rule.cause for rule in RULES))
}
assert set(_CAUSAL_ORDER) == set(ROOT_CAUSES) - {"healthy"}, "every failure class needs rules"
assert len({rule.name for rule in RULES}) == len(RULES), "rule names identify rules in summaries"
_WEIGHT_OF: dict[str, float] = {rule.name: rule.weight for rule in RULES}


def classify_logs(entries: Sequence[LogEntry]) -> RootCauseAnalysis:
    """The baseline's answer for a window of logs; evidence are 1-based positions in ``entries``."""
    hits: dict[RootCause, Counter[str]] = {}
    line_weight: dict[RootCause, dict[int, float]] = {}
    for index, entry in enumerate(entries):
        line = entry.line.lower()
        matched = [rule for rule in RULES if rule.pattern.search(line)]
        if any(rule.claims for rule in matched):
            matched = [rule for rule in matched if rule.claims]
        for rule in matched:
            hits.setdefault(rule.cause, Counter())[rule.name] += 1
            weights = line_weight.setdefault(rule.cause, {})
            weights[index] = max(weights.get(index, 0.0), rule.weight)

    scores = {
        cause: sum(_WEIGHT_OF[name] * min(count, MAX_COUNTED_REPEATS) for name, count in counter.items())
        for cause, counter in hits.items()
    }
    ranked = sorted(scores, key=lambda cause: (-scores[cause], _CAUSAL_ORDER[cause]))
    causes = [cause for cause in ranked if cause not in SYMPTOMS and scores[cause] >= MIN_SCORE]
    if causes:
        # A real cause outranks the symptoms it produces, whatever their count.
        ranked = causes + [cause for cause in ranked if cause not in causes]
    if not ranked or scores[ranked[0]] < MIN_SCORE:
        found = f"only weak hits ({_describe_hits(hits[ranked[0]])})" if ranked else "no failure pattern"
        return RootCauseAnalysis(
            root_cause="healthy",
            confidence=0.5 if ranked else 0.6,
            evidence=[],
            summary=_clip(f"{BASELINE_MODEL_NAME}: healthy, {found} in {len(entries)} lines"),
        )

    best = ranked[0]
    runner_up = scores[ranked[1]] if len(ranked) > 1 else 0.0
    # Confidence grows with the lead over the strongest rival cause: a clear lead means the grep is
    # unambiguous. Symptoms are no rival; they are what the cause looks like from the kubelet.
    rival = max((scores[cause] for cause in ranked[1:] if cause not in SYMPTOMS), default=0.0)
    confidence = round(0.5 + 0.45 * max(0.0, scores[best] - rival) / scores[best], 3)
    # Cite the strongest lines first, earliest among equals; then show them in log order.
    strongest = sorted(line_weight[best].items(), key=lambda item: (-item[1], item[0]))[:MAX_EVIDENCE]
    evidence = sorted(index + 1 for index, _ in strongest)
    summary = (
        f"{BASELINE_MODEL_NAME}: {best} (score {scores[best]:g}); rules hit: {_describe_hits(hits[best])}"
    )
    if len(ranked) > 1:
        summary += f"; runner-up {ranked[1]} (score {runner_up:g})"
    return RootCauseAnalysis(
        root_cause=best, confidence=confidence, evidence=evidence, summary=_clip(summary)
    )


def _describe_hits(counter: Counter[str]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in counter.most_common())


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 1] + "…"


# --- Scoring on a golden set ---------------------------------------------------------------------


def baseline_item(example: GoldenExample) -> ItemResult:
    """The baseline's answer to one golden example, as an eval item result."""
    answer = classify_logs(example.to_log_entries())
    return ItemResult(
        example_id=example.id,
        content_hash=example.content_hash(),
        expected=example.label.root_cause,
        predicted=answer.root_cause,
        outcome="correct" if answer.root_cause == example.label.root_cause else "wrong",
        parsed=answer.model_dump(mode="json"),
        expected_evidence=list(example.label.evidence),
        # The baseline numbers the entries themselves, so line n is entry n - 1.
        cited_evidence=[number - 1 for number in answer.evidence],
    )


class BaselineReport(BaseModel):
    """How the baseline did on a golden set."""

    dataset_version: str
    examples: int
    accuracy: float
    macro_f1: float
    evidence_recall: float
    per_class: list[ClassMetrics]
    items: list[ItemResult]


def evaluate_baseline(examples: Sequence[GoldenExample]) -> BaselineReport:
    """Run the baseline over golden examples and score it with the evals' own metrics."""
    items = [baseline_item(example) for example in examples]
    return BaselineReport(
        dataset_version=dataset_version(examples),
        examples=len(items),
        accuracy=metrics.accuracy(items),
        macro_f1=metrics.macro_f1(items),
        evidence_recall=metrics.evidence_recall(items),
        per_class=metrics.precision_recall_by_class(items),
        items=items,
    )


def format_report(report: BaselineReport) -> str:
    """The report as plain text: headline numbers, then one row per class."""
    lines = [
        f"{BASELINE_MODEL_NAME} on {report.examples} examples (dataset {report.dataset_version})",
        f"accuracy         {report.accuracy:.3f}",
        f"macro-F1         {report.macro_f1:.3f}",
        f"evidence recall  {report.evidence_recall:.3f}",
        "",
        f"{'class':<24} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'predicted':>10}",
    ]
    lines.extend(
        f"{row.label:<24} {row.precision:>9.3f} {row.recall:>7.3f} {row.f1:>6.3f} {row.support:>8d}"
        f" {row.predicted:>10d}"
        for row in report.per_class
    )
    return "\n".join(lines)
