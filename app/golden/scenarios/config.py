"""``crash_config_error``: the process refuses its configuration at start-up and exits.

Each runtime refuses in its own words: Go's env and flag packages, Spring Boot's failure analysis,
pydantic-settings' ValidationError, envalid's banner, a JSON or YAML parser; servers print their
config-file errors. Kubernetes adds ``CreateContainerConfigError`` when an env var's Secret or
ConfigMap key does not exist, and the container never starts.
"""

from __future__ import annotations

import random

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    api,
    failing_rollout,
    incident_start,
    main_procs,
    restart_stateful_pod,
    want_api,
    want_postgres,
    want_redis,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.code import camel
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, fixed
from app.logs.synthetic.lifecycle import begin_rollout, crash_loop
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.runtimes.go import Logrus
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.runtimes.node import NODE_VERSION
from app.logs.synthetic.runtimes.python import Gunicorn, traceback_lines
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("crash_config_error")

_SITE = "/usr/local/lib/python3.12/site-packages"
_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "STRIPE_API_KEY",
    "OIDC_ISSUER_URL",
    "KAFKA_BROKERS",
    "S3_BUCKET",
    "SMTP_PASSWORD",
    "PAYMENT_GATEWAY_URL",
    "ENCRYPTION_KEY",
)


def _go_fatal(logger: AppLogger, msg: str, error: str) -> list[Render]:
    if isinstance(logger, Logrus):
        return logger.log("fatal", msg, error=error)
    return logger.log("fatal" if logger.component == "go-zap" else "error", msg, error=error)


def _missing_lines(scene: Scene, proc: Proc, setting: str) -> tuple[list[Render], list[int]]:
    """What each runtime prints when a required setting is absent."""
    logger: AppLogger = proc.logger
    if logger.family == "go":
        return _go_fatal(
            logger,
            "failed to load configuration",
            f'env: required environment variable "{setting}" is not set',
        ), [0]
    if logger.family == "node":
        lines = [
            "================================",
            " Missing environment variables:",
            f"    {setting}: undefined",
            "================================",
            " Exiting with error code 1",
        ]
        return [fixed(line) for line in lines], [1, 2]
    if logger.family == "python":
        if isinstance(logger, Gunicorn):
            err = Err(
                f"Set the {setting} environment variable",
                "django.core.exceptions.ImproperlyConfigured",
                (
                    Frame(
                        f"{_SITE}/environ/environ.py",
                        "get_value",
                        391,
                        "raise ImproperlyConfigured(error_msg) from exc",
                    ),
                ),
            )
            frames = (
                Frame(
                    f"/app/{logger.ctx.code.package}/settings.py",
                    "<module>",
                    41,
                    f'{setting} = env("{setting}")',
                ),
            )
            # gunicorn's worker dies importing the app, then the master gives up: "Worker failed to boot."
            lines = logger.server("error", "Exception in worker process", 7) + [
                fixed(line) for line in traceback_lines(err, frames)
            ]
            lines += logger.server("info", "Worker exiting (pid: 7)", 7) + logger.server(
                "error", "Worker (pid:7) exited with code 3"
            )
            lines += logger.server("error", "Shutting down: Master") + logger.server(
                "error", "Reason: Worker failed to boot."
            )
            return lines, [-5, -1]
        field = setting.lower()
        text = f"1 validation error for Settings\n{field}\n  Field required [type=missing, input_value={{'log_level': 'info', 'port': '8000'}}, input_type=dict]\n    For further information visit https://errors.pydantic.dev/2.9/v/missing"
        return _pydantic(logger, text), [-4, -3]
    assert isinstance(logger, SpringBoot)
    if scene.chance(0.5):
        description = [
            "Failed to configure a DataSource: 'url' attribute is not specified and no embedded datasource could be configured.",
            "Reason: Failed to determine a suitable driver class",
        ]
        action = [
            "Consider the following:",
            "\tIf you want an embedded database (H2, HSQL or Derby), please put it on the classpath.",
            "\tIf you have database settings to be loaded from a particular profile you may need to activate it (the profiles prod are currently active).",
        ]
        return logger.failure_analysis(description, action), [2, 4]
    bean = f"{camel(logger.ctx.app).lower()[:1]}{camel(logger.ctx.app)[1:]}Client"
    inner = Err(
        f"Could not resolve placeholder '{setting}' in value \"${{{setting}}}\"",
        "java.lang.IllegalArgumentException",
        (Frame("org.springframework.util.PropertyPlaceholderHelper", "parseStringValue", 180),),
    )
    err = Err(
        f"Error creating bean with name '{bean}': Injection of autowired dependencies failed",
        "org.springframework.beans.factory.BeanCreationException",
        (
            Frame(
                "org.springframework.beans.factory.annotation.AutowiredAnnotationBeanPostProcessor",
                "postProcessProperties",
                515,
            ),
        ),
        cause=inner,
    )
    lines = logger.crash(err, ())
    return lines, [0, _index_of(lines, "Could not resolve placeholder")]


def _index_of(lines: list[Render], needle: str) -> int:
    return next(index for index, render in enumerate(lines) if needle in render(0))


def _pydantic(logger: AppLogger, text: str) -> list[Render]:
    frames = (
        Frame("/usr/local/bin/uvicorn", "<module>", 8, "sys.exit(main())"),
        Frame(f"/app/{logger.ctx.code.package}/config.py", "<module>", 31, "settings = Settings()"),
        Frame(f"{_SITE}/pydantic_settings/main.py", "__init__", 171, "super().__init__("),
        Frame(
            f"{_SITE}/pydantic/main.py",
            "__init__",
            212,
            "validated_self = self.__pydantic_validator__.validate_python(data, self_instance=self)",
        ),
    )
    err = Err(text, "pydantic_core._pydantic_core.ValidationError")
    return [fixed(line) for line in traceback_lines(Err(err.message, err.type, frames))]


@scenario("config.missing_setting", FAMILY_VARIANTS, hard_case=None, prepare=want_api)
def missing_setting(scene: Scene, family: str) -> Verdict:
    """A release drops a required setting: the new pods exit at start-up and crash-loop."""
    target = api(scene, family)
    setting = scene.pick(_SETTINGS)

    def write(proc: Proc, run: Run, death: float) -> None:
        lines, marks = _missing_lines(scene, proc, setting)
        cite = bool(run.start >= 0) and not proc.pod.workload.config.cited
        if cite:
            proc.pod.workload.config.cited = True
        scene.log(
            max(run.start + 0.3, death - 0.8),
            proc,
            proc.logger.startup()[:1] + lines,
            evidence=[mark + 1 if mark >= 0 else len(lines) + mark + 1 for mark in marks] if cite else False,
        )

    _procs, severity = failing_rollout(scene, target, write)
    return Verdict(
        f"New {target.name} pods exit at start-up because the required setting {setting} is not set, and crash-loop.",
        severity,
    )


def _invalid_lines(scene: Scene, proc: Proc) -> tuple[list[Render], list[int], str]:
    logger: AppLogger = proc.logger
    if logger.family == "go":
        value = scene.pick(("30", "5 min", "1h30"))
        error = f'env: parse error on field "RequestTimeout" of type "time.Duration": time: {"missing unit" if value.isdigit() else "unknown unit"} in duration "{value}"'
        return _go_fatal(logger, "failed to load configuration", error), [0], "REQUEST_TIMEOUT"
    if logger.family == "python":
        text = "1 validation error for Settings\npool_size\n  Input should be a valid integer, unable to parse string as an integer [type=int_parsing, input_value='20 connections', input_type=str]\n    For further information visit https://errors.pydantic.dev/2.9/v/int_parsing"
        return _pydantic(logger, text), [-4, -2], "POOL_SIZE"
    if logger.family == "node":
        url = scene.pick(("redis//cache:6379", "postgres:/db:5432/app", "amqp//rabbitmq"))
        err = Err(
            "Invalid URL",
            "TypeError",
            (
                Frame("node:internal/url", "new URL", 816),
                Frame("/app/dist/config.js:22:17", "loadConfig", 22),
            ),
            extra=(("code", "ERR_INVALID_URL"), ("input", url)),
        )
        return logger.crash(err, ()), [4, 5], "the connection URL"
    assert isinstance(logger, SpringBoot)
    value = scene.pick(("30 seconds", "5 mins", "1,5s"))
    description = [
        "Failed to bind properties under 'app.client.timeout' to java.time.Duration:",
        "    Property: app.client.timeout",
        f'    Value: "{value}"',
        '    Origin: System Environment Property "APP_CLIENT_TIMEOUT"',
        f"    Reason: failed to convert java.lang.String to java.time.Duration (caused by java.lang.IllegalArgumentException: '{value}' is not a valid duration)",
    ]
    return (
        logger.failure_analysis(description, ["Update your application's configuration"]),
        [2, 5, 9],
        "APP_CLIENT_TIMEOUT",
    )


@scenario("config.invalid_value", FAMILY_VARIANTS, hard_case="other_words", prepare=want_api)
def invalid_value(scene: Scene, family: str) -> Verdict:
    """A setting has a value the parser refuses (a duration without a unit, a malformed URL)."""
    target = api(scene, family)
    found: dict[str, str] = {}

    def write(proc: Proc, run: Run, death: float) -> None:
        lines, marks, setting = _invalid_lines(scene, proc)
        found["setting"] = setting
        cite = run.start >= 0 and not proc.pod.workload.config.cited
        if cite:
            proc.pod.workload.config.cited = True
        scene.log(
            max(run.start + 0.3, death - 0.6),
            proc,
            lines,
            evidence=[mark if mark >= 0 else len(lines) + mark for mark in marks] if cite else False,
        )

    _procs, severity = failing_rollout(scene, target, write)
    return Verdict(
        f"New {target.name} pods exit at start-up because {found.get('setting', 'a setting')} has a value they cannot parse, and crash-loop.",
        severity,
    )


@scenario("config.create_container_config", ("secret_key", "secret", "configmap"), prepare=None)
def create_container_config(scene: Scene, variant: str) -> Verdict:
    """An env var refers to a Secret or ConfigMap key that does not exist: the kubelet cannot create the container."""
    target = scene.pick(scene.with_role("api", "worker"))
    name = f"{target.name}-{scene.pick(('credentials', 'secrets', 'config', 'env'))}"
    key = scene.pick(("password", "api-key", "DATABASE_URL", "token", "client-secret"))
    message = {
        "secret_key": f"Error: couldn't find key {key} in Secret {scene.namespace}/{name}",
        "secret": f'Error: secret "{name}" not found',
        "configmap": f'Error: configmap "{name}" not found',
    }[variant]
    recreate = scene.chance(0.3)
    pods = (
        begin_rollout(scene, target, incident_start(scene, 0.1, 0.4), replace_all=recreate)
        if target.kind == "Deployment"
        else []
    )
    cited = 0
    for pod in pods:
        proc = next(proc for proc in scene.procs_of_pod(pod) if proc.container is target.main)
        run = proc.runs.pop()
        at = run.start - 0.3
        kubelet = scene.kubelet(pod)
        delay = 0.0
        while at < scene.duration:
            scene.event(
                at,
                pod.ref,
                kubelet,
                "Normal",
                "Pulled",
                f'Container image "{proc.container.image}" already present on machine',
            )
            if scene.event(at + 0.01, pod.ref, kubelet, "Warning", "Failed", message, evidence=cited < 3):
                cited += 1
            delay = min(max(delay * 2, 10.0), 300.0)
            at += delay + scene.rng.uniform(0.5, 12)
    return Verdict(
        f"New {target.name} pods cannot start: {message.removeprefix('Error: ')} (CreateContainerConfigError).",
        "critical" if recreate else "warning",
    )


def _prepare_server(spec: StackSpec, rng: random.Random, variant: str) -> None:
    if variant == "nginx":
        spec.web = True
    elif variant == "postgres":
        want_postgres(spec, "namespace", bouncer=False)
    elif variant == "redis":
        want_redis(spec, "namespace")
    else:
        want_postgres(spec, rng.choice(("namespace", "external")), bouncer=True)


def _server_config_lines(scene: Scene, proc: Proc, variant: str) -> tuple[list[Render], list[int]]:
    logger = proc.logger
    if variant == "nginx":
        directive = scene.pick(("proxy_passs", "proxy_read_timout", "client_max_body"))
        text = f'unknown directive "{directive}" in /etc/nginx/conf.d/default.conf:{scene.rng.randint(8, 40)}'
        return [*logger.startup()[:7], logger.error("emerg", text, pid=1)], [7]
    if variant == "postgres":
        value = scene.pick(("512MBB", "2oo", "on-ish"))
        parameter = {"512MBB": "shared_buffers", "2oo": "max_connections", "on-ish": "log_checkpoints"}[value]
        lines = [
            logger.line(1, "LOG", f'invalid value for parameter "{parameter}": "{value}"'),
            logger.line(1, "FATAL", 'configuration file "/etc/postgresql/postgresql.conf" contains errors'),
        ]
        return lines, [0, 1]
    if variant == "redis":
        policy = scene.pick(("allkeys-lfru", "volatile-lfu1", "noeviction;"))
        lines = [
            fixed(""),
            fixed("*** FATAL CONFIG FILE ERROR (Redis 7.2.5) ***"),
            fixed("Reading the configuration file, at line 4"),
            fixed(f">>> 'maxmemory-policy {policy}'"),
            fixed(
                "argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl, noeviction"
            ),
        ][1:]
        return lines, [0, 2, 3]
    line = scene.rng.randint(6, 30)
    return [
        logger.line(
            "ERROR", f"syntax error in configuration (/etc/pgbouncer/pgbouncer.ini:{line}), stopping loading"
        ),
        logger.line("FATAL", "cannot load config file"),
    ], [0, 1]


@scenario(
    "config.server_config_file",
    ("nginx", "postgres", "redis", "pgbouncer"),
    hard_case="causal_chain",
    prepare=_prepare_server,
)
def server_config_file(scene: Scene, variant: str) -> Verdict:
    """A server's edited config file does not parse; it exits at start and its clients lose it."""
    role = {"nginx": "web"}.get(variant, variant)
    workload = wanted(scene, role)
    cited = {"done": False}

    def write(proc: Proc, run: Run, death: float) -> None:
        if not 0 <= run.start < scene.duration:
            return
        lines, marks = _server_config_lines(scene, proc, variant)
        scene.log(run.start + 0.1, proc, lines, evidence=marks if not cited["done"] else False)
        cited["done"] = True

    if workload.kind == "StatefulSet":
        proc = restart_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.35))
        run = proc.last_run()

        def die(death: Proc, dying: Run, when: float) -> None:
            dying.ready = when
            dying.quiet_start = True
            write(death, dying, when)

        crash_loop(
            scene,
            proc,
            run.start + scene.rng.uniform(0.3, 1.5),
            run_length=lambda _n: scene.rng.uniform(0.3, 1.5),
            on_death=die,
        )
        severity = "critical"
    else:
        _procs, severity = failing_rollout(scene, workload, write, run_seconds=(0.3, 1.5))
    return Verdict(
        f"{workload.name} ({variant}) exits at start-up because its configuration file has an error, and crash-loops.",
        severity,
    )


@scenario("config.unknown_flag", ("go", "jvm"), hard_case=None, prepare=want_api)
def unknown_flag(scene: Scene, family: str) -> Verdict:
    """The release passes a flag (or JVM option) the binary does not know."""
    target = api(scene, family)
    if family == "go":
        flag = scene.pick(("metrics-bind-address", "enable-tracing", "db-pool-size"))
        lines = [
            f"flag provided but not defined: -{flag}",
            "Usage of /app/server:",
            "  -addr string",
            '    \tlisten address (default ":8080")',
            "  -config string",
            '    \tpath to the config file (default "/etc/app/config.yaml")',
            "  -log-level string",
            '    \tlog level (default "info")',
        ]
        marks = [0]
        what = f"the flag -{flag}"
    else:
        option = scene.pick(("UseConcMarkSweepGC", "UseParNewGC", "CMSClassUnloadingEnabled"))
        lines = [
            f"Unrecognized VM option '{option}'",
            "Error: Could not create the Java Virtual Machine.",
            "Error: A fatal exception has occurred. Program will exit.",
        ]
        marks = [0, 1]
        what = f"the JVM option -XX:+{option}"
    cited = {"done": False}

    def write(proc: Proc, run: Run, death: float) -> None:
        if 0 <= run.start < scene.duration:
            scene.log(
                run.start + 0.05,
                proc,
                [fixed(line) for line in lines],
                evidence=marks if not cited["done"] else False,
            )
            cited["done"] = True

    _procs, severity = failing_rollout(scene, target, write, run_seconds=(0.1, 0.6))
    return Verdict(
        f"New {target.name} pods exit immediately because {what} is not recognised, and crash-loop.", severity
    )


@scenario("config.parse_error", ("go", "python", "node"), hard_case="other_words", prepare=want_api)
def parse_error(scene: Scene, family: str) -> Verdict:
    """A mounted config file is not valid YAML/JSON after an edit: the parser's error, then exit."""
    target = api(scene, family)
    path = (
        scene.pick(("/etc/app/config.yaml", "/config/settings.yaml"))
        if family != "node"
        else "/app/config/production.json"
    )
    cited = {"done": False}

    def write(proc: Proc, run: Run, death: float) -> None:
        if not 0 <= run.start < scene.duration:
            return
        logger: AppLogger = proc.logger
        if family == "go":
            lines, marks = (
                _go_fatal(
                    logger,
                    "failed to load config",
                    f"yaml: line {scene.rng.randint(4, 40)}: did not find expected key",
                ),
                [0],
            )
        elif family == "python":
            err = Err(
                f'mapping values are not allowed here\n  in "{path}", line {scene.rng.randint(3, 30)}, column {scene.rng.randint(5, 30)}',
                "yaml.scanner.ScannerError",
                (Frame(f"{_SITE}/yaml/scanner.py", "fetch_value", 577, "raise ScannerError(None, None,"),),
            )
            frames = (
                Frame(
                    f"/app/{logger.ctx.code.package}/config.py", "load", 18, "return yaml.safe_load(handle)"
                ),
            )
            lines = [fixed(line) for line in traceback_lines(err, frames)]
            marks = [_index_of(lines, "ScannerError"), _index_of(lines, path)]
        else:
            position = scene.rng.randint(40, 900)
            err = Err(
                f"Expected double-quoted property name in JSON at position {position} (line {position // 30 + 1} column {position % 30 + 1})",
                "SyntaxError",
                (Frame("<anonymous>", "JSON.parse", 0), Frame("/app/dist/config.js:14:23", "loadConfig", 14)),
            )
            lines = [
                fixed(line)
                for line in [
                    f"{err.type}: {err.message}",
                    "    at JSON.parse (<anonymous>)",
                    "    at loadConfig (/app/dist/config.js:14:23)",
                    "    at Object.<anonymous> (/app/dist/main.js:9:16)",
                    f"Node.js {NODE_VERSION}",
                ]
            ]
            marks = [0, 2]
        scene.log(run.start + 0.4, proc, lines, evidence=marks if not cited["done"] else False)
        cited["done"] = True

    _procs, severity = failing_rollout(scene, target, write)
    return Verdict(
        f"New {target.name} pods exit at start-up because {path} does not parse, and crash-loop.", severity
    )


def main_of(scene: Scene, role: str) -> list[Proc]:
    """The main processes of the first workload with ``role``."""
    workload = scene.workload(role)
    return main_procs(scene, workload) if workload else []
