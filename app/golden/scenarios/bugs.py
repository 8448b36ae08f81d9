"""Scenarios where the application's own code fails: panics, unhandled exceptions, bugs."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.formats import Line
from app.golden.scenarios.lifecycle import (
    container_exited,
    container_started,
    crashloop,
    ready,
    startup,
)
from app.golden.scenarios.noise import app_log, go_log, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import ingress_failure
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


@scenario("application_exception", "red_herring")
def app_exception_with_cross_class_decoys(w: Window) -> Verdict:
    """A Go worker panics on a nil map, next to a refused-then-reconnected cache, a DNS blip and more."""
    pod = w.app("go")
    w.crowd(pod, 1, 2)
    function = w.pick(("billing.(*Aggregator).add", "orders.(*Batcher).flush", "search.(*Indexer).merge"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, [*startup(w, pod), ready(w, pod)]) + w.rng.uniform(5, 30)
        lines = _go_panic(pod, w, "assignment to entry in nil map", function, w.rng.randint(30, 400))
        return w.block(at, pod, lines, evidence=(0, 3) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2, runs=w.rng.randint(2, 3))
    spoken = add_decoys(
        w,
        "application_exception",
        w.rng.randint(2, 3),
        prefer=("dependency_unavailable", "dns_resolution_failure", "crash_config_error"),
    )
    return Verdict(
        f"{pod.name} panics (assignment to entry in nil map in {function}) and crashloops; {describe_decoys(spoken)} are not the cause.",
        "critical",
    )


@scenario("application_exception", "other_words")
def app_bug_in_dependency_words(w: Window) -> Verdict:
    """The app closes its own pool or client and then uses it: errors that sound like a dependency outage."""
    pod = w.app()
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 0, 2)
    at = w.rng.uniform(20, w.duration_s * 0.4)
    tenant = f"t-{w.rng.randint(10, 99)}"
    if pod.runtime == "jvm":
        trigger = f.spring(
            pod.app,
            "INFO",
            "tenant-sync-1",
            "c.e.app.tenant.TenantRegistry",
            f"Tenant {tenant} removed, closing its HTTP client",
        )
        failure = [
            f.spring(
                pod.app,
                "ERROR",
                f"nio-8080-exec-{w.rng.randint(1, 10)}",
                "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                "Servlet.service() for servlet [dispatcherServlet] threw exception [Request processing failed: java.lang.IllegalStateException: Connection pool shut down] with root cause",
            ),
            f.jvm("java.lang.IllegalStateException: Connection pool shut down"),
            f.jvm("\tat org.apache.http.util.Asserts.check(Asserts.java:34)"),
            f.jvm(
                "\tat org.apache.http.impl.conn.PoolingHttpClientConnectionManager.requestConnection(PoolingHttpClientConnectionManager.java:269)"
            ),
            f.jvm(
                f"\tat com.acme.{pod.namespace}.client.PartnerClient.fetch(PartnerClient.java:{w.rng.randint(40, 120)})"
            ),
        ]
        evidence: tuple[int, ...] = (1, 4)
    elif pod.runtime == "go":
        trigger = go_log(
            pod, "info", "config/reload.go:41", "configuration reloaded, old database pool closed"
        )
        failure = [
            go_log(
                pod,
                "error",
                "store/pg.go:88",
                "query failed",
                error="sql: database is closed",
                path=f"/api/{pod.app}",
            )
        ]
        evidence = (0,)
    elif pod.runtime == "node":
        trigger = f.pino(30, "mysql connection released on shutdown hook", pod.name, reason="tenant removed")
        failure = [
            f.pino(
                50,
                "request errored",
                pod.name,
                err={
                    "type": "Error",
                    "message": "Cannot enqueue Query after invoking quit.",
                    "code": "PROTOCOL_ENQUEUE_AFTER_QUIT",
                    "fatal": False,
                },
                res={"statusCode": 500},
            )
        ]
        evidence = (0,)
    else:
        trigger = f.python_log("WARNING", "app.db", "commit failed, session left open")
        failure = [
            f.python_log("ERROR", "uvicorn.error", "Exception in ASGI application"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain(
                f'  File "/app/app/routes/orders.py", line {w.rng.randint(30, 200)}, in list_orders'
            ),
            f.python_plain("    rows = session.execute(select(Order)).all()"),
            f.python_plain(
                "sqlalchemy.exc.PendingRollbackError: Can't reconnect until invalid transaction is rolled back.  Please rollback() fully before proceeding"
            ),
        ]
        evidence = (0, 4)
    w.add(at, pod, trigger)
    first = True
    for moment in w.spread(at + 5, w.duration_s - 4, w.rng.randint(2, 4)):
        end = w.block(moment, pod, failure, evidence=evidence if first else ())
        ingress_failure_500 = f.nginx_access(
            w.client_ip(),
            f"GET {request_path(w, pod.namespace)} HTTP/1.1",
            500,
            142,
            f"{pod.namespace}-{pod.app}-8080",
            f"{pod.ip}:8080",
            w.rng.uniform(0.005, 0.05),
            w.hexid(32),
        )
        w.add(end + 0.01, ingress, ingress_failure_500)
        first = False
    return Verdict(
        f"{pod.name} uses a connection pool or client its own code already closed; the database and upstreams are fine, the 500s are a bug.",
        "warning",
    )


@scenario("application_exception", "paraphrase")
def app_exception_paraphrase(w: Window) -> Verdict:
    """A bug in other words: StackOverflowError, RecursionError, 'Maximum call stack size exceeded', a deadlock."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    if pod.runtime == "go":

        def run(at: float, attempt: int) -> float:
            at = w.block(at + 0.3, pod, [*startup(w, pod), ready(w, pod)]) + w.rng.uniform(3, 20)
            lines = [
                f.go_plain("fatal error: all goroutines are asleep - deadlock!"),
                f.go_plain(""),
                f.go_plain("goroutine 1 [chan receive]:"),
                f.go_plain("main.main()"),
                f.go_plain(f"	/src/cmd/worker/main.go:{w.rng.randint(40, 90)} +0x1c5"),
            ]
            return w.block(at, pod, lines, evidence=(0,) if attempt == 0 else ())

        crashloop(w, pod, run, exit_code=2)
        return Verdict(
            f"{pod.name} deadlocks on start ('all goroutines are asleep') and crashloops.", "critical"
        )
    first = True
    for at in w.spread(15, w.duration_s - 5, w.rng.randint(2, 3)):
        if pod.runtime == "jvm":
            lines = [
                f.spring(
                    pod.app,
                    "ERROR",
                    f"nio-8080-exec-{w.rng.randint(1, 10)}",
                    "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                    "Servlet.service() for servlet [dispatcherServlet] threw exception [Handler dispatch failed: java.lang.StackOverflowError] with root cause",
                ),
                f.jvm("java.lang.StackOverflowError: null"),
                f.jvm(f"\tat com.acme.{pod.namespace}.catalog.CategoryTree.depth(CategoryTree.java:88)"),
                f.jvm(f"\tat com.acme.{pod.namespace}.catalog.CategoryTree.depth(CategoryTree.java:91)"),
            ]
            evidence: tuple[int, ...] = (0, 1)
        elif pod.runtime == "python":
            lines = [
                f.python_log("ERROR", "uvicorn.error", "Exception in ASGI application"),
                f.python_plain("Traceback (most recent call last):"),
                f.python_plain('  File "/app/app/catalog/tree.py", line 41, in flatten'),
                f.python_plain("    return [node, *flatten(node.parent)]"),
                f.python_plain("  [Previous line repeated 996 more times]"),
                f.python_plain("RecursionError: maximum recursion depth exceeded"),
            ]
            evidence = (0, 5)
        else:
            lines = [
                f.node_plain("RangeError: Maximum call stack size exceeded"),
                f.node_plain("    at flatten (/app/dist/catalog/tree.js:41:17)"),
                f.node_plain("    at flatten (/app/dist/catalog/tree.js:44:12)"),
                f.pino(
                    50,
                    "request errored",
                    pod.name,
                    err={"type": "RangeError", "message": "Maximum call stack size exceeded"},
                    res={"statusCode": 500},
                ),
            ]
            evidence = (0, 3)
        w.block(at, pod, lines, evidence=evidence if first else ())
        first = False
    return Verdict(
        f"{pod.name} recurses without end on a cyclic category tree (stack overflow) and returns 500 for those requests.",
        "warning",
    )


@scenario("application_exception", "causal_chain")
def app_crash_behind_ingress_502(w: Window) -> Verdict:
    """A Node.js app dies on an uncaught TypeError; the ingress and its callers only see refused connections."""
    pod = w.app("node")
    ingress = w.platform("ingress-nginx")
    caller = w.app(w.pick(("go", "python", "jvm")))
    w.crowd(pod, 0, 1)
    crashed = w.rng.uniform(w.duration_s * 0.2, w.duration_s * 0.5)
    field = w.pick(("price", "sku", "currency", "id"))
    w.quiet(pod, crashed - 0.5, crashed + 16)
    w.block(
        crashed,
        pod,
        [
            f.node_plain(f"/app/dist/cart/totals.js:{w.rng.randint(20, 90)}"),
            f.node_plain(f"      sum += item.{field} * item.quantity;"),
            f.node_plain("                  ^"),
            f.node_plain(""),
            f.node_plain(f"TypeError: Cannot read properties of null (reading '{field}')"),
            f.node_plain("    at /app/dist/cart/totals.js:41:19"),
            f.node_plain("    at Array.forEach (<anonymous>)"),
            f.node_plain(""),
            f.node_plain("Node.js v20.18.1"),
        ],
        evidence=(4,),
    )
    container_exited(w, pod, crashed + 0.05, 1)
    for moment in w.spread(crashed + 0.5, crashed + 12, w.rng.randint(2, 3)):
        ingress_failure(
            w, ingress, pod, moment, "connect() failed (111: Connection refused) while connecting to upstream"
        )
        w.add(
            moment + 0.02,
            caller,
            app_log(w, caller, "error", f"call to {pod.app} failed", status=502, error="502 Bad Gateway"),
        )
    began = container_started(w, pod, crashed + w.rng.uniform(12, 15))
    w.block(began + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name} crashed on an uncaught TypeError (an item with a null {field}); the ingress 502s and refused connections while it restarted are the consequence.",
        "critical",
    )
