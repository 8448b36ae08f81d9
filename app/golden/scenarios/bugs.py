"""Scenarios where the application's own code fails: panics, unhandled exceptions, bugs."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.formats import Line
from app.golden.scenarios.lifecycle import (
    crashloop,
    ready,
    startup,
)
from app.golden.scenarios.noise import go_log
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.window import Pod, Window

_LIMITS_MI = (256, 384, 512, 768, 1024, 1536, 2048)


# --- application_exception -----------------------------------------------------------------------


def _go_panic(pod: Pod, w: Window, message: str, function: str, goroutine: int) -> list[Line]:
    module = f"github.com/acme/{pod.app}"
    lines = [f.go_plain(f"panic: {message}")]
    if "nil pointer" in message:
        lines.append(
            f.go_plain(
                f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x{w.rng.randint(8, 80):x} pc=0x{w.rng.getrandbits(24):x}]"
            )
        )
    return [
        *lines,
        f.go_plain(""),
        f.go_plain(f"goroutine {goroutine} [running]:"),
        f.go_plain(
            f"{module}/internal/{function}(0xc000{w.rng.getrandbits(24):06x}, {{0x{w.rng.getrandbits(24):x}, 0xc000{w.rng.getrandbits(20):05x}}})"
        ),
        f.go_plain(
            f"	/src/internal/{function.split('.')[0]}/{function.split('.')[0]}.go:{w.rng.randint(40, 400)} +0x{w.rng.getrandbits(12):x}"
        ),
        f.go_plain(f"created by {module}/internal/worker.(*Pool).Start in goroutine 1"),
        f.go_plain(f"	/src/internal/worker/pool.go:{w.rng.randint(30, 90)} +0x{w.rng.getrandbits(12):x}"),
    ]


@scenario("application_exception")
def app_go_nil_panic(w: Window) -> Verdict:
    """A Go service crashloops on a nil pointer dereference panic in a worker goroutine."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    function = w.pick(
        (
            "sync.(*Reconciler).apply",
            "orders.(*Processor).handle",
            "billing.(*Invoicer).render",
            "events.(*Consumer).dispatch",
        )
    )

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, [*startup(w, pod), ready(w, pod)]) + w.rng.uniform(5, 40)
        lines = _go_panic(
            pod,
            w,
            "runtime error: invalid memory address or nil pointer dereference",
            function,
            w.rng.randint(30, 400),
        )
        return w.block(at, pod, lines, evidence=(0, 4) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2)
    return Verdict(
        f"{pod.name} panics with a nil pointer dereference in {function} and crashloops.", "critical"
    )


@scenario("application_exception")
def app_go_index_out_of_range(w: Window) -> Verdict:
    """A Go service crashloops on an index-out-of-range panic."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    length = w.rng.randint(0, 6)
    function = w.pick(("events.(*Consumer).dispatch", "pricing.(*Engine).tier", "search.(*Ranker).top"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, [*startup(w, pod), ready(w, pod)]) + w.rng.uniform(3, 30)
        lines = _go_panic(
            pod,
            w,
            f"runtime error: index out of range [{length}] with length {length}",
            function,
            w.rng.randint(30, 400),
        )
        return w.block(at, pod, lines, evidence=(0, 3) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2)
    return Verdict(f"{pod.name} crashes with an index-out-of-range panic in {function}.", "critical")


@scenario("application_exception")
def app_java_npe_500(w: Window) -> Verdict:
    """A Spring controller throws NullPointerException on some requests; the ingress logs 500s."""
    pod = w.app("jvm")
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 0, 2)
    entity, field = w.pick(
        (("customer", "getAddress"), ("order", "getItems"), ("invoice", "getLines"), ("cart", "getOwner"))
    )
    cls = entity.capitalize()
    first = True
    for at in w.spread(10, w.duration_s - 10, w.rng.randint(2, 4)):
        lines = [
            f.spring(
                pod.app,
                "ERROR",
                f"nio-8080-exec-{w.rng.randint(1, 10)}",
                "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                f'Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception [Request processing failed: java.lang.NullPointerException: Cannot invoke "com.acme.{pod.namespace}.model.{cls}.{field}()" because "{entity}" is null] with root cause',
            ),
            f.jvm(
                f'java.lang.NullPointerException: Cannot invoke "com.acme.{pod.namespace}.model.{cls}.{field}()" because "{entity}" is null'
            ),
            f.jvm(
                f"\tat com.acme.{pod.namespace}.service.{cls}Service.summary({cls}Service.java:{w.rng.randint(40, 300)})"
            ),
            f.jvm(
                f"\tat com.acme.{pod.namespace}.web.{cls}Controller.get({cls}Controller.java:{w.rng.randint(20, 120)})"
            ),
            f.jvm(
                "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)"
            ),
            f.jvm("\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"),
        ]
        end = w.block(at, pod, lines, evidence=(0, 1, 2) if first else ())
        w.add(
            end + 0.01,
            ingress,
            f.nginx_access(
                w.client_ip(),
                f"GET /api/{entity}s/{w.rng.randint(1000, 99999)} HTTP/1.1",
                500,
                142,
                f"{pod.namespace}-{pod.app}-8080",
                f"{pod.ip}:8080",
                w.rng.uniform(0.01, 0.08),
                w.hexid(32),
            ),
        )
        first = False
    return Verdict(
        f"{pod.name} returns 500s: a NullPointerException ({entity} is null) in {cls}Service on some requests.",
        "warning",
    )


@scenario("application_exception", "other_words")
def app_python_request_keyerror(w: Window) -> Verdict:
    """A request handler raises KeyError on a payload field (shaped like a config KeyError)."""
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    key = w.pick(("shipping_address", "customer_id", "line_items", "currency"))
    handler = w.pick(("create_order", "quote", "apply_coupon", "submit_invoice"))
    first = True
    for at in w.spread(10, w.duration_s - 10, w.rng.randint(2, 3)):
        client = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:{w.port()}"
        lines = [
            f.python_log("ERROR", "uvicorn.error", "Exception in ASGI application"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain(
                '  File "/usr/local/lib/python3.12/site-packages/uvicorn/protocols/http/httptools_impl.py", line 409, in run_asgi'
            ),
            f.python_plain("    result = await app(  # type: ignore[func-returns-value]"),
            f.python_plain(
                f'  File "/app/app/routes/{handler}.py", line {w.rng.randint(20, 200)}, in {handler}'
            ),
            f.python_plain(f'    value = payload["{key}"]'),
            f.python_plain(f"KeyError: '{key}'"),
        ]
        end = w.block(at, pod, lines, evidence=(0, 5, 6) if first else ())
        w.add(end, pod, f.uvicorn_access(client, f"POST /api/{handler.replace('_', '-')} HTTP/1.1", 500))
        first = False
    return Verdict(
        f"{pod.name} raises KeyError '{key}' in its {handler} handler for some payloads and returns 500; config and infrastructure are fine.",
        "warning",
    )


@scenario("application_exception")
def app_node_unhandled_rejection(w: Window) -> Verdict:
    """A Node.js app crashes on an unhandled promise rejection (TypeError)."""
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    prop = w.pick(("id", "items", "email", "price"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, [*startup(w, pod), ready(w, pod)]) + w.rng.uniform(3, 40)
        lines = [
            f.node_plain("node:internal/process/promises:391"),
            f.node_plain("    triggerUncaughtException(err, true /* fromPromise */);"),
            f.node_plain("    ^"),
            f.node_plain(""),
            f.node_plain(
                f"[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"TypeError: Cannot read properties of undefined (reading '{prop}')\".] {{"
            ),
            f.node_plain("  code: 'ERR_UNHANDLED_REJECTION'"),
            f.node_plain("}"),
            f.node_plain(""),
            f.node_plain("Node.js v20.18.1"),
        ]
        return w.block(at, pod, lines, evidence=(4,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} crashes on an unhandled promise rejection (TypeError reading '{prop}' of undefined).",
        "critical",
    )


@scenario("application_exception", "shared_symptom")
def app_crashloop_concurrent_map(w: Window) -> Verdict:
    """The shared CrashLoopBackOff symptom, caused by a Go data race (concurrent map writes)."""
    pod = w.app("go")
    w.crowd(pod, 2, 3)

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, [*startup(w, pod), ready(w, pod)])
        at += w.rng.uniform(2, 10)
        w.add(
            at,
            pod,
            go_log(pod, "warn", "store/redis.go:64", "redis ping slow, retrying in 1s", error="i/o timeout"),
        )
        w.add(at + 1.1, pod, go_log(pod, "info", "store/redis.go:70", "redis connection established"))
        lines = [
            f.go_plain("fatal error: concurrent map writes"),
            f.go_plain(""),
            f.go_plain(f"goroutine {w.rng.randint(40, 900)} [running]:"),
            f.go_plain(f"github.com/acme/{pod.app}/internal/session.(*Store).Put(...)"),
            f.go_plain(f"	/src/internal/session/store.go:{w.rng.randint(30, 120)}"),
        ]
        return w.block(at + w.rng.uniform(4, 30), pod, lines, evidence=(0, 3) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2)
    return Verdict(
        f"{pod.name} crashloops on a data race ('fatal error: concurrent map writes' in session.Store); the Redis retry is benign.",
        "critical",
    )


@scenario("application_exception", "red_herring")
def app_exception_with_dependency_herring(w: Window) -> Verdict:
    """Worker jobs fail with ValueError while a broker reconnect nearby is benign."""
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    broker = w.pick(("rabbitmq", "redis", "kafka"))
    at = w.rng.uniform(20, 80)
    w.add(
        at,
        pod,
        f.python_log("WARNING", "worker.broker", f"connection to {broker} reset by peer, reconnecting in 1s"),
    )
    w.add(at + 1.3, pod, f.python_log("INFO", "worker.broker", f"reconnected to {broker}"))
    first = True
    for at in w.spread(40, w.duration_s - 10, w.rng.randint(2, 4)):
        job = w.rng.randint(10000, 99999)
        lines = [
            f.python_log("ERROR", "worker.jobs", f"job {job} failed"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain('  File "/app/worker/jobs.py", line 88, in run'),
            f.python_plain("    total += int(row['quantity'])"),
            f.python_plain("             ^^^^^^^^^^^^^^^^^^^^"),
            f.python_plain("ValueError: invalid literal for int() with base 10: 'N/A'"),
        ]
        w.block(at, pod, lines, evidence=(0, 3, 5) if first else ())
        first = False
    return Verdict(
        f"{pod.app} jobs fail with ValueError parsing quantity 'N/A'; the brief {broker} reconnect is unrelated.",
        "warning",
    )
