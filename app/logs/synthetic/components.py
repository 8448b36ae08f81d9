"""The format writer of each container, chosen by the container's ``component``.

Settings that every pod of a workload shares (a database's slow-query threshold, whether Redis
persists, the host nginx serves) live in the workload's ``config`` and are drawn once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.logs.synthetic.cluster import Container, Pod
from app.logs.synthetic.code import CodeBase
from app.logs.synthetic.datastores import PgBouncer, Postgres, RabbitMQ, Redis
from app.logs.synthetic.proxies import Envoy, Nginx
from app.logs.synthetic.runtimes import AppContext, make_logger

if TYPE_CHECKING:
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
        if component == "python-celery":
            logger.broker_url = str(config.get("broker_url", logger.broker_url))  # type: ignore[attr-defined]
        return logger
    if component == "postgresql":
        return Postgres(rng, slow_ms=int(config.setdefault("slow_ms", rng.choice((0, 0, 250, 500, 1000)))))  # type: ignore[arg-type]
    if component == "redis":
        return Redis(rng, persistence=bool(config.setdefault("persistence", rng.random() < 0.7)))
    if component == "pgbouncer":
        return PgBouncer(rng, database=str(config.get("database", "app")))
    if component == "rabbitmq":
        return RabbitMQ(rng, ip=pod.ip)
    if component == "nginx":
        return Nginx(
            rng, server_name=str(config.setdefault("server_name", f"{scene.namespace}.{scene.org}.example"))
        )
    if component == "envoy":
        return Envoy(rng)
    raise ValueError(f"no writer for component {component!r}")
