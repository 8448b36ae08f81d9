"""The format writer of each container, chosen by the container's ``component``.

Settings that every pod of a workload shares (a database's slow-query threshold, whether Redis
persists, the host nginx serves) live in the workload's ``config`` and are drawn once.
"""

from __future__ import annotations

from typing import Any

from app.logs.synthetic.cluster import Container, Pod
from app.logs.synthetic.code import CodeBase
from app.logs.synthetic.datastores import PgBouncer, Postgres, RabbitMQ, Redis
from app.logs.synthetic.proxies import Envoy, Nginx
from app.logs.synthetic.runtimes import AppContext, make_logger
from app.logs.synthetic.runtimes.python import Celery
from app.logs.synthetic.scene import Scene

APP_FAMILIES: dict[str, str] = {
    "go-zap": "go",
    "go-slog": "go",
    "go-logrus": "go",
    "spring-boot": "jvm",
    "python-uvicorn": "python",
    "python-gunicorn": "python",
    "python-celery": "python",
    "node-pino": "node",
    "node-winston": "node",
}


def family_of(component: str) -> str:
    """The runtime family of an application component, or '' for servers and proxies."""
    return APP_FAMILIES.get(component, "")


def make_component(scene: Scene, pod: Pod, container: Container) -> Any:
    """The writer of ``container``'s lines."""
    workload = pod.workload
    config = workload.config
    rng = scene.rng
    component = container.component
    if component in APP_FAMILIES:
        version = container.image.rsplit(":", 1)[-1]
        ctx = AppContext(
            rng,
            CodeBase(scene.org, workload.name, APP_FAMILIES[component]),
            pod.name,
            container.name,
            workload.name,
            version,
            container.port,
        )
        logger = make_logger(component, ctx)
        if isinstance(logger, Celery) and config.broker_url:
            logger.broker_url = config.broker_url
        return logger
    if component == "postgresql":
        slow_ms = rng.choice((0, 0, 250, 500, 1000))
        if config.slow_ms is None:
            config.slow_ms = slow_ms
        return Postgres(rng, slow_ms=config.slow_ms)
    if component == "redis":
        persistence = rng.random() < 0.7
        if config.persistence is None:
            config.persistence = persistence
        return Redis(rng, persistence=config.persistence)
    if component == "pgbouncer":
        return PgBouncer(rng, database=config.database)
    if component == "rabbitmq":
        return RabbitMQ(rng, ip=pod.ip)
    if component == "nginx":
        if config.server_name is None:
            config.server_name = f"{scene.namespace}.{scene.org}.example"
        return Nginx(rng, server_name=config.server_name)
    if component == "envoy":
        return Envoy(rng)
    raise ValueError(f"no writer for component {component!r}")
