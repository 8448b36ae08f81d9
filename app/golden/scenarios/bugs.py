"""``application_exception``: the application's own code fails, with its infrastructure healthy.

A Go panic (``runtime error: invalid memory address or nil pointer dereference``, an index out of
range, ``concurrent map writes``, a deadlock), a Java ``NullPointerException`` or ``StackOverflowError``,
a Python ``KeyError`` or ``RecursionError``, a Node.js ``TypeError``, each with the frames of the
service's own code; or a release whose queries name a column the database does not have. It crashes
the process (a crash loop) or fails the requests and jobs that reach the broken code path.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    add_bug,
    api,
    api_on_postgres,
    failing_rollout,
    force_creates,
    incident_start,
    main_procs,
    prepare_worker,
    want_api,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.cluster import Workload
from app.logs.synthetic.code import camel, singular, snake
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import fixed
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec
from app.logs.synthetic.traffic import serve_request

scenario = scenarios_of("application_exception")

_SITE = "/usr/local/lib/python3.12/site-packages"


def _bug_err(proc: Proc, kind: str, resource: str, flavor: int = 0) -> Err:
    """The exception a runtime raises for a class of bug, in its own words (``flavor`` picks the code path)."""
    family = proc.logger.family
    item = singular(resource)
    field = proc.logger.ctx.code.service.split("-")[0]
    if family == "go":
        if kind == "index":
            return Err(
                (
                    "runtime error: index out of range [1] with length 1",
                    "runtime error: slice bounds out of range [:12] with capacity 8",
                    "runtime error: integer divide by zero",
                )[flavor % 3],
                "index",
            )
        return Err(
            (
                "runtime error: invalid memory address or nil pointer dereference",
                "interface conversion: interface {} is nil, not map[string]interface {}",
                "assignment to entry in nil map",
            )[flavor % 3],
            "nil" if flavor % 3 == 0 else "",
        )
    if family == "jvm":
        if kind == "recursion":
            return Err("", "java.lang.StackOverflowError")
        model = f"com.{proc.logger.ctx.code.org}.{proc.logger.ctx.code.package}.model"
        options = (
            Err(
                f'Cannot invoke "{model}.Customer.getEmail()" because the return value of "{model}.{camel(item)}.getCustomer()" is null',
                "java.lang.NullPointerException",
            ),
            Err(
                "class java.lang.String cannot be cast to class java.lang.Long (java.lang.String and java.lang.Long are in module java.base of loader 'bootstrap')",
                "java.lang.ClassCastException",
            ),
            Err("Index 0 out of bounds for length 0", "java.lang.IndexOutOfBoundsException"),
            Err(
                f"Duplicate key {item}-{flavor} (attempted merging values {item}A and {item}B)",
                "java.lang.IllegalStateException",
            ),
        )
        return options[flavor % 4] if kind == "nil" else options[(flavor + 2) % 4]
    if family == "python":
        if kind == "recursion":
            return Err("maximum recursion depth exceeded", "RecursionError")
        options = (
            Err(f"'{field}_id'", "KeyError"),
            Err("'NoneType' object has no attribute 'email'", "AttributeError"),
            Err("unsupported operand type(s) for +: 'NoneType' and 'int'", "TypeError"),
            Err("list index out of range", "IndexError"),
        )
        return options[flavor % 4] if kind == "index" else options[(flavor + 1) % 4]
    if kind == "recursion":
        return Err("Maximum call stack size exceeded", "RangeError")
    options = (
        Err(
            f"Cannot read properties of undefined (reading '{'email' if kind != 'index' else 'id'}')",
            "TypeError",
        ),
        Err(f"{item}.items.map is not a function", "TypeError"),
        Err("Cannot destructure property 'id' of 'undefined' as it is undefined.", "TypeError"),
        Err("Invalid time value", "RangeError"),
    )
    return options[flavor % 4]


def _frames(proc: Proc, resource: str, verb: str, *, deep: bool = False) -> tuple[Frame, ...]:
    code = proc.logger.ctx.code
    frames = (
        code.frame(
            "service",
            resource,
            f"to{camel(singular(resource))}Response"
            if proc.logger.family != "python"
            else f"to_{snake(singular(resource))}_response",
        ),
        *code.stack(resource, verb)[1:],
    )
    if deep:
        again = code.frame(
            "service", resource, "resolveParent" if proc.logger.family != "python" else "resolve_parent"
        )
        frames = (again,) * 6 + frames
    return frames


def _throw(
    scene: Scene,
    target: Workload,
    resource: str,
    start: float,
    share: float,
    err: Callable[[Proc], Err],
    *,
    verb: str,
    step: str | None = None,
    deep: bool = False,
) -> None:
    """From ``start`` on, ``share`` of the ``verb`` calls on ``resource`` raise ``err`` in the service's ``step`` code."""
    frames = partial(_frames, resource=resource, verb=step or verb, deep=deep)
    add_bug(scene, target, resource, start, share, err, frames, verb=verb)


def _prepare(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_api(spec, rng, family.split("_")[0])


@scenario(
    "bug.crash_loop",
    ("go_nil", "go_index", "jvm", "python", "node"),
    hard_case="shared_symptom",
    prepare=_prepare,
)
def crash_loop_bug(scene: Scene, variant: str) -> Verdict:
    """A release dereferences a value that can be empty; the process dies on it minutes after starting, again and again."""
    family = variant.split("_")[0]
    target = api(scene, family)
    resource = scene.pick(scene.domain)
    kind = variant.split("_")[1] if "_" in variant else scene.pick(("nil", "index"))
    flavor = scene.rng.randrange(12)
    cited = {"done": False}

    def write(proc: Proc, run: Run, death: float) -> None:
        run.ready = min(run.end, run.start + scene.rng.uniform(2, 8))
        run.quiet_start = False
        err = _bug_err(proc, kind, resource, flavor)
        frames = _frames(proc, resource, "list")
        logger: AppLogger = proc.logger
        if isinstance(logger, SpringBoot):
            # An exception in a request thread kills nothing in Spring: this one is in a start-up hook.
            bean = f"{snake(resource).replace('_', '')}Cache"
            err = Err(
                f"Error creating bean with name '{bean}': Invocation of init method failed",
                "org.springframework.beans.factory.BeanCreationException",
                (
                    Frame(
                        "org.springframework.beans.factory.annotation.InitDestroyAnnotationBeanPostProcessor",
                        "postProcessBeforeInitialization",
                        222,
                    ),
                ),
                cause=Err(err.message, err.type, frames),
            )
            lines = logger.crash(err, ())
            marks = [
                0,
                next(index for index, render in enumerate(lines) if render(0).startswith("Caused by:")),
            ]
            scene.log(death - 0.01, proc, lines, evidence=marks if not cited["done"] else False)
            cited["done"] = True
            return
        lines = logger.crash(err, frames)
        marks = [0, 1] if family in ("go", "node") else [0]
        if family == "python":
            marks = [len(lines) - 1]
        scene.log(death - 0.01, proc, lines, evidence=marks if not cited["done"] else False)
        cited["done"] = True

    seconds = (8.0, 25.0) if family == "jvm" else (20.0, 240.0)
    _procs, severity = failing_rollout(scene, target, write, run_seconds=seconds)
    return Verdict(
        f"The new release of {target.name} crashes on a {('nil value' if kind == 'nil' else 'missing element')} while handling {resource} and crash-loops.",
        severity,
    )


@scenario("bug.request_errors", FAMILY_VARIANTS, prepare=_prepare)
def request_errors(scene: Scene, family: str) -> Verdict:
    """A release throws on one route for part of its requests: 500s with the exception, the process lives on."""
    target = api(scene, family)
    resource = scene.pick(scene.domain)
    start = incident_start(scene, 0.1, 0.45)
    share = scene.rng.uniform(0.3, 1.0)
    kind = scene.pick(("nil", "index"))
    flavor = scene.rng.randrange(12)
    _throw(
        scene, target, resource, start, share, lambda proc: _bug_err(proc, kind, resource, flavor), verb="get"
    )
    for proc in main_procs(scene, target):
        force_requests_to(scene, proc, resource, start + 2, scene.duration - 1, 3)
    return Verdict(
        f"Since a release, GET /v1/{resource}/{{id}} on {target.name} throws for {share:.0%} of requests and answers 500.",
        "critical" if share > 0.8 else "warning",
    )


def force_requests_to(scene: Scene, proc: Proc, resource: str, start: float, end: float, count: int) -> None:
    """A few requests to one route (so a broken route meets traffic)."""
    for index in range(count):
        at = start + (end - start) * (index + scene.rng.uniform(0.1, 0.9)) / count
        if proc.serving(at):
            serve_request(
                scene,
                proc,
                at,
                route=("GET", f"/v1/{resource}/{singular(resource)[:3]}_{scene.hexid(12)}", resource, "get"),
            )


@scenario("bug.poison_message", FAMILY_VARIANTS, hard_case="subtle", prepare=prepare_worker)
def poison_message(scene: Scene, family: str) -> Verdict:
    """A new message shape makes the worker's handler throw: every such job fails and is retried."""
    target = wanted(scene, "worker")
    start = incident_start(scene, 0.1, 0.45)
    share = scene.rng.uniform(0.3, 0.8)
    kind = scene.pick(("nil", "index"))
    flavor = scene.rng.randrange(12)
    for resource in scene.domain:
        err = partial(_bug_err, kind=kind, resource=resource, flavor=flavor)
        _throw(scene, target, resource, start, share, err, verb="consume", step="process")
    target.config.load = max(2.0, target.config.load)
    return Verdict(
        f"{target.name}'s message handler throws on a new message shape; {share:.0%} of its jobs fail and are retried.",
        "warning",
    )


def _undefined_column(proc: Proc, table: str, column: str) -> Err:
    family = proc.logger.family
    if family == "go":
        return Err(f'ERROR: column "{column}" of relation "{table}" does not exist (SQLSTATE 42703)')
    if family == "jvm":
        psql = Err(
            f'ERROR: column "{column}" of relation "{table}" does not exist\n  Position: {30 + len(table)}',
            "org.postgresql.util.PSQLException",
            (
                Frame("org.postgresql.core.v3.QueryExecutorImpl", "receiveErrorResponse", 2733),
                Frame("org.postgresql.core.v3.QueryExecutorImpl", "processResults", 2420),
            ),
        )
        return Err(
            f"PreparedStatementCallback; bad SQL grammar [insert into {table} (id, {column}, created_at) values (?, ?, ?)]",
            "org.springframework.jdbc.BadSqlGrammarException",
            (Frame("org.springframework.jdbc.support.SQLStateSQLExceptionTranslator", "doTranslate", 116),),
            cause=psql,
        )
    psy = Err(
        f'column "{column}" of relation "{table}" does not exist\nLINE 1: INSERT INTO {table} (id, {column}, created_at) VALUES ($1, $2...',
        "psycopg.errors.UndefinedColumn",
        (Frame(f"{_SITE}/psycopg/cursor.py", "execute", 97, "raise ex.with_traceback(None)"),),
    )
    return Err(
        f"({psy.type}) {psy.message}\n(Background on this error at: https://sqlalche.me/e/20/f405)",
        "sqlalchemy.exc.ProgrammingError",
        (
            Frame(
                f"{_SITE}/sqlalchemy/engine/default.py",
                "do_execute",
                941,
                "cursor.execute(statement, parameters)",
            ),
        ),
        cause=psy,
    )


@scenario(
    "bug.schema_mismatch",
    ("go", "jvm", "python"),
    hard_case="other_words",
    prepare=api_on_postgres("namespace"),
)
def schema_mismatch(scene: Scene, family: str) -> Verdict:
    """The release writes a column its migration never added: every insert fails; the database is healthy."""
    target = api(scene, family)
    resource = scene.pick(scene.domain)
    table = resource.replace("-", "_")
    column = scene.pick(("discount_code", "external_ref", "tax_region", "archived_at", "idempotency_key"))
    start = incident_start(scene, 0.1, 0.45)
    add_bug(
        scene,
        target,
        resource,
        start,
        1.0,
        lambda proc: _undefined_column(proc, table, column),
        lambda proc: proc.logger.ctx.code.stack(resource, "create"),
        verb="create",
    )
    postgres = scene.workload("postgres")
    if postgres is not None:
        server = main_procs(scene, postgres)[0]
        at = start + scene.rng.uniform(2, 20)
        while at < scene.duration:
            pid = scene.rng.randint(200, 90_000)
            lines = [
                server.logger.line(
                    pid,
                    "ERROR",
                    f'column "{column}" of relation "{table}" does not exist at character {30 + len(table)}',
                ),
                server.logger.line(
                    pid, "STATEMENT", f"INSERT INTO {table} (id, {column}, created_at) VALUES ($1, $2, $3)"
                ),
            ]
            scene.log(at, server, lines)
            at += scene.rng.expovariate(1 / 60)
    force_creates(scene, target, resource, start + 3, (30, 120))
    return Verdict(
        f"{target.name}'s new release inserts into {table}.{column}, which the schema does not have; every POST /v1/{resource} fails.",
        "warning",
    )


@scenario("bug.deadlock", ("go",), hard_case="subtle", prepare=_prepare)
def deadlock(scene: Scene, family: str) -> Verdict:
    """Every goroutine ends up waiting on a channel no one writes: the runtime aborts with a deadlock."""
    target = api(scene, "go")
    cited = {"done": False}

    def write(proc: Proc, run: Run, death: float) -> None:
        run.ready = min(run.end, run.start + scene.rng.uniform(2, 6))
        run.quiet_start = False
        code = proc.logger.ctx.code
        frame = code.frame("service", scene.domain[0], "drainQueue")
        lines = [
            "fatal error: all goroutines are asleep - deadlock!",
            "goroutine 1 [chan receive]:",
            f"{frame.function}(...)",
            f"\t{frame.where}:{frame.line}",
            "main.main()",
            f"\t/app/cmd/{code.service}/main.go:{60 + len(code.service)} +0x1c5",
        ]
        scene.log(
            death - 0.01, proc, [fixed(line) for line in lines], evidence=[0] if not cited["done"] else False
        )
        cited["done"] = True

    _procs, severity = failing_rollout(scene, target, write, run_seconds=(30.0, 300.0))
    return Verdict(
        f"The new release of {target.name} deadlocks (all goroutines are asleep) and exits, in a loop.",
        severity,
    )


@scenario("bug.unbounded_recursion", ("jvm", "python", "node"), prepare=_prepare)
def unbounded_recursion(scene: Scene, family: str) -> Verdict:
    """A cyclic parent reference in the data makes a recursive resolver never stop: stack overflow per request."""
    target = api(scene, family)
    resource = scene.pick(scene.domain)
    start = incident_start(scene, 0.1, 0.45)
    share = scene.rng.uniform(0.2, 0.6)
    _throw(
        scene,
        target,
        resource,
        start,
        share,
        lambda proc: _bug_err(proc, "recursion", resource),
        verb="get",
        deep=True,
    )
    for proc in main_procs(scene, target):
        force_requests_to(scene, proc, resource, start + 2, scene.duration - 1, 3)
    return Verdict(
        f"Requests for some {resource} on {target.name} recurse without end (stack overflow) and answer 500.",
        "warning",
    )
