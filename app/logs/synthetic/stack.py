"""What runs in a namespace: a team's services, workers, jobs and datastores, drawn from seeded choices.

A ``StackSpec`` says which parts a namespace has (APIs in which runtimes, a worker, a front end,
CronJobs, PostgreSQL in the namespace or elsewhere, PgBouncer, Redis, RabbitMQ, Kafka, other APIs,
S3, an Istio sidecar). ``draw_spec`` draws one; a scenario may ask for a part it needs; ``compose``
builds the scene: workloads with consistently named pods, images and limits, and the dependencies
each workload calls, named the way its configuration would name them. After the scenario has had its
say, ``finish`` has ``traffic`` write the benign work and returns the window's lines.

This module is where the engine is wired together (scene, lifecycle, traffic), so the scene itself
depends on none of the modules that write lines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from app.logs.synthetic.cluster import Cluster, Container, Workload, WorkloadKind
from app.logs.synthetic.code import singular
from app.logs.synthetic.events import EventRecorder
from app.logs.synthetic.faults import Target
from app.logs.synthetic.lifecycle import add_running_pod
from app.logs.synthetic.parts import Dep
from app.logs.synthetic.runtimes import components_of
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.timeline import Line, Timeline
from app.logs.synthetic.traffic import configure, write_all

# A team's domain and the resources its API serves; the namespace is named after the domain.
DOMAINS: dict[str, tuple[str, ...]] = {
    "payments": ("payments", "refunds", "payouts"),
    "checkout": ("carts", "orders", "coupons"),
    "orders": ("orders", "shipments", "returns"),
    "identity": ("users", "sessions", "tokens"),
    "search": ("queries", "documents", "suggestions"),
    "catalog": ("products", "categories", "prices"),
    "inventory": ("items", "reservations", "warehouses"),
    "notifications": ("messages", "templates", "subscriptions"),
    "billing": ("invoices", "subscriptions", "credits"),
    "shipping": ("shipments", "labels", "rates"),
    "media": ("images", "uploads", "thumbnails"),
    "support": ("tickets", "comments", "agents"),
    "analytics": ("events", "reports", "dashboards"),
    "accounts": ("accounts", "members", "invitations"),
    "booking": ("reservations", "slots", "venues"),
    "ledger": ("entries", "accounts", "balances"),
    "loyalty": ("points", "rewards", "campaigns"),
    "pricing": ("quotes", "rules", "discounts"),
    "fleet": ("vehicles", "trips", "drivers"),
    "content": ("articles", "authors", "tags"),
}
ORGS = (
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "vandelay",
    "stark",
    "wayne",
    "tyrell",
    "soylent",
    "cyberdyne",
    "aperture",
)
FAMILIES = ("go", "jvm", "python", "node")
_PORTS = {"go": 8080, "jvm": 8080, "python": 8000, "node": 3000}
_LIMITS_MI = (256, 384, 512, 768, 1024, 1536, 2048)
_CRON_TASKS = ("sync", "cleanup", "report", "reconcile", "export", "digest", "rollup", "expire")
_UPSTREAMS = (
    "api.stripe.com",
    "api.sendgrid.com",
    "hooks.slack.com",
    "api.twilio.com",
    "maps.googleapis.com",
    "api.partner-gateway.example",
)
_GENERIC_CONTAINERS = ("app", "api", "server", "main")


@dataclass
class StackSpec:
    """Which parts a namespace has; see the module docstring."""

    apis: list[str] = field(default_factory=list)
    worker: str | None = None
    web: bool = False
    crons: list[str] = field(default_factory=list)
    postgres: str | None = None
    pgbouncer: bool = False
    redis: str | None = None
    rabbitmq: bool = False
    kafka: bool = False
    upstreams: int = 0
    internal_upstream: bool = False
    s3: bool = False
    mongodb: bool = False
    meshed: bool = False
    # A logging stack a role must use when its family matches (``{"api": "python-gunicorn"}``).
    prefer: dict[str, str] = field(default_factory=dict)

    def families(self) -> set[str]:
        """The runtime families of the namespace's applications."""
        return {*self.apis, *([self.worker] if self.worker else []), *self.crons}


def draw_spec(rng: random.Random) -> StackSpec:
    """A namespace's parts, drawn independently of any failure."""
    spec = StackSpec()
    spec.apis = [rng.choice(FAMILIES) for _ in range(1 if rng.random() < 0.7 else 2)]
    spec.worker = rng.choice(FAMILIES) if rng.random() < 0.55 else None
    spec.web = rng.random() < 0.3
    spec.crons = [rng.choice(FAMILIES) for _ in range(rng.choice((0, 0, 1, 1, 2)))]
    spec.postgres = rng.choice(("namespace", "namespace", "external", None))
    spec.pgbouncer = spec.postgres is not None and rng.random() < 0.25
    spec.redis = rng.choice(("namespace", "namespace", "external", None, None))
    spec.rabbitmq = spec.worker is not None and rng.random() < 0.5
    spec.kafka = rng.random() < 0.25
    spec.upstreams = rng.choice((0, 1, 1, 2))
    spec.internal_upstream = rng.random() < 0.35
    spec.s3 = rng.random() < 0.3
    spec.mongodb = spec.postgres is None and rng.random() < 0.5
    spec.meshed = rng.random() < 0.3
    return spec


def _tag(rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"v{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"
    if style == 1:
        return f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"
    if style == 2:
        return f"sha-{rng.getrandbits(28):07x}"
    return f"2026.{rng.randint(1, 11)}.{rng.randint(1, 9)}"


def _registry(rng: random.Random, org: str) -> str:
    return rng.choice(
        (
            f"ghcr.io/{org}",
            f"{rng.randint(10**11, 10**12 - 1)}.dkr.ecr.eu-central-1.amazonaws.com/{org}",
            f"registry.gitlab.com/{org}/platform",
            f"harbor.{org}.internal/apps",
            f"europe-docker.pkg.dev/{org}-prod/apps",
            f"docker.io/{org}",
        )
    )


@dataclass
class _Builder:
    rng: random.Random
    cluster: Cluster
    scene: Scene
    registry: str
    domain_name: str
    prefer: dict[str, str]

    def app_container(
        self,
        workload_name: str,
        family: str,
        *,
        component: str | None = None,
        container: str | None = None,
        role: str = "",
    ) -> Container:
        preferred = self.prefer.get(role)
        if component is None and preferred in components_of(family):
            component = preferred
        component = component or self.rng.choice(
            [name for name in components_of(family) if name != "python-celery"]
        )
        name = container or (
            workload_name if self.rng.random() < 0.6 else self.rng.choice(_GENERIC_CONTAINERS)
        )
        return Container(
            name,
            component,
            f"{self.registry}/{workload_name}:{_tag(self.rng)}",
            self.rng.choice(_LIMITS_MI),
            _PORTS[family],
        )

    def sidecars(self) -> list[Container]:
        if not self.scene.meshed:
            return []
        return [Container("istio-proxy", "envoy", "docker.io/istio/proxyv2:1.23.2", 256, 15090)]

    def workload(
        self, kind: WorkloadKind, name: str, role: str, containers: list[Container], replicas: int
    ) -> Workload:
        return self.cluster.new_workload(
            kind, name, role, containers, replicas=replicas, app_label=self.rng.random() < 0.8
        )


def _api_name(rng: random.Random, domain: str, resources: tuple[str, ...], taken: set[str]) -> str:
    options = [
        f"{domain}-api",
        f"{singular(domain)}-service",
        f"{resources[0]}-api",
        f"{domain}",
        "gateway",
        f"{singular(resources[1])}-service",
    ]
    return next(
        name
        for name in [*rng.sample(options, len(options)), f"{domain}-svc{len(taken)}"]
        if name not in taken
    )


def compose(
    rng: random.Random,
    spec: StackSpec,
    *,
    start_ns: int,
    duration_s: float,
    namespace: str | None = None,
    cluster: Cluster | None = None,
    domain: str | None = None,
) -> Scene:
    """Build a namespace from ``spec``: workloads, their running pods and their dependencies."""
    domain = domain if domain in DOMAINS else rng.choice(sorted(DOMAINS))
    resources = DOMAINS[domain]
    if namespace is None:
        namespace = rng.choice(
            (domain, domain, f"{domain}-prod", f"team-{domain}", f"{domain}-svc", f"shop-{domain}")
        )
    cluster = cluster or Cluster.create(rng)
    org = rng.choice(ORGS)
    timeline = Timeline(start_ns, duration_s)
    scene = Scene(
        rng,
        cluster,
        namespace,
        timeline,
        EventRecorder(timeline, namespace, rng),
        org,
        resources,
        meshed=spec.meshed,
    )
    build = _Builder(rng, cluster, scene, _registry(rng, org), domain, spec.prefer)
    taken: set[str] = set()

    def add(kind: WorkloadKind, name: str, role: str, containers: list[Container], replicas: int) -> Workload:
        taken.add(name)
        return add_workload(scene, build.workload(kind, name, role, containers, replicas))

    apis = []
    for family in spec.apis:
        name = _api_name(rng, domain, resources, taken)
        apis.append(
            add(
                "Deployment",
                name,
                "api",
                [build.app_container(name, family, role="api"), *build.sidecars()],
                rng.choice((1, 2, 2, 3, 3, 4)),
            )
        )
    workers = []
    if spec.worker:
        name = next(
            n
            for n in (f"{domain}-worker", f"{singular(resources[0])}-worker", "worker", f"{domain}-consumer")
            if n not in taken
        )
        component = "python-celery" if spec.worker == "python" and spec.rabbitmq else None
        workers.append(
            add(
                "Deployment",
                name,
                "worker",
                [
                    build.app_container(name, spec.worker, component=component, role="worker"),
                    *build.sidecars(),
                ],
                rng.choice((1, 1, 2, 3)),
            )
        )
    crons = []
    for family in spec.crons:
        task = next(t for t in rng.sample(_CRON_TASKS, len(_CRON_TASKS)) if f"{domain}-{t}" not in taken)
        name = f"{domain}-{task}" if rng.random() < 0.6 else f"{singular(resources[0])}-{task}"
        name = name if name not in taken else f"{domain}-{task}-job"
        cron = build.workload(
            "CronJob",
            name,
            "cron",
            [build.app_container(name, family, container=name if rng.random() < 0.7 else "job", role="cron")],
            0,
        )
        cron.schedule_min = rng.choice((5, 5, 10, 15, 15, 30, 60))
        cron.config.backoff_limit = rng.choice((0, 1, 2, 3, 6))
        taken.add(name)
        configure(scene, cron)
        scene.workloads.append(cron)
        crons.append(cron)
    webs = []
    if spec.web:
        name = rng.choice(("web", "frontend", f"{domain}-web", "storefront"))
        web = add(
            "Deployment",
            name,
            "web",
            [Container("nginx", "nginx", "nginx:1.27.3-alpine", 128, 8080), *build.sidecars()],
            rng.choice((2, 2, 3)),
        )
        webs.append(web)
    callers = [*apis, *workers, *crons]
    _datastores(rng, scene, spec, build, add, callers, domain, namespace)
    _externals(rng, scene, spec, apis, workers, crons, domain, namespace)
    if webs and apis:
        api = apis[0]
        scene.add_dep(
            Dep(f"svc:{api.name}", Target("http", api.name, api.service_ip, 80), server=api), users=webs
        )
    return scene


def add_workload(scene: Scene, workload: Workload) -> Workload:
    """Register a workload, draw what its pods share and create its running pods (started before the window)."""
    configure(scene, workload)
    scene.workloads.append(workload)
    for ordinal in range(workload.replicas):
        add_running_pod(scene, workload, ordinal)
    return workload


def finish(scene: Scene) -> list[Line]:
    """Write every container's benign work over its runs, then return the window's lines in order."""
    write_all(scene)
    return scene.timeline.finish()


def _datastores(rng, scene, spec, build, add, callers, domain, namespace) -> None:
    user = rng.choice(("app", domain.rstrip("s"), f"{domain}_app"))
    database = domain.replace("-", "_")
    fqdn = rng.random() < 0.4
    if spec.postgres == "namespace":
        name = rng.choice(("postgres", f"{domain}-db", "postgresql", "db"))
        pg = add(
            "StatefulSet",
            name,
            "postgres",
            [
                Container(
                    "postgres",
                    "postgresql",
                    rng.choice(
                        ("postgres:16.4", "postgres:16.4-bookworm", "docker.io/library/postgres:16.6")
                    ),
                    rng.choice((512, 1024, 2048, 4096)),
                    5432,
                )
            ],
            1,
        )
        host = f"{name}.{namespace}.svc.cluster.local" if fqdn else name
        pg_dep = Dep("postgres", Target("postgres", host, pg.service_ip, 5432, user, database), server=pg)
    elif spec.postgres == "external":
        host = rng.choice(
            (
                f"{domain}-db.c{rng.getrandbits(40):010x}.eu-central-1.rds.amazonaws.com",
                "pg-main-rw.databases.svc.cluster.local",
                f"{domain}-pg-rw.postgres.svc.cluster.local",
            )
        )
        pg_dep = Dep(
            "postgres",
            Target(
                "postgres",
                host,
                f"10.{rng.randint(0, 9)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                5432,
                user,
                database,
            ),
        )
    else:
        pg_dep = None
    if pg_dep is not None:
        if spec.pgbouncer:
            bouncer = add(
                "Deployment",
                "pgbouncer",
                "pgbouncer",
                [Container("pgbouncer", "pgbouncer", "edoburu/pgbouncer:v1.22.1-p0", 128, 6432)],
                rng.choice((1, 2)),
            )
            bouncer.config.database = database
            scene.add_dep(pg_dep, users=[bouncer])
            scene.add_dep(
                Dep(
                    "pgbouncer",
                    Target("postgres", "pgbouncer", bouncer.service_ip, 6432, user, database),
                    server=bouncer,
                ),
                users=callers,
            )
        else:
            scene.add_dep(pg_dep, users=callers)
    if spec.mongodb:
        host = rng.choice(
            (
                f"cluster0.{rng.getrandbits(20):05x}.mongodb.net",
                "mongodb-0.mongodb-headless.databases.svc.cluster.local",
            )
        )
        scene.add_dep(
            Dep(
                "mongodb",
                Target(
                    "mongodb",
                    host,
                    f"10.{rng.randint(0, 9)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                    27017,
                    user,
                    database,
                ),
            ),
            users=callers,
        )
    if spec.redis == "namespace":
        name = rng.choice(("redis", "redis-master", f"{domain}-cache", "cache"))
        redis = add(
            "StatefulSet",
            name,
            "redis",
            [
                Container(
                    "redis",
                    "redis",
                    rng.choice(("redis:7.2.5", "redis:7.2.5-alpine")),
                    rng.choice((256, 512, 1024)),
                    6379,
                )
            ],
            1,
        )
        host = f"{name}.{namespace}.svc.cluster.local" if fqdn else name
        scene.add_dep(
            Dep("redis", Target("redis", host, redis.service_ip, 6379, "default"), server=redis),
            users=callers[:2],
        )
    elif spec.redis == "external":
        host = rng.choice(
            (
                f"{domain}-cache.abc{rng.getrandbits(16):04x}.ng.0001.euc1.cache.amazonaws.com",
                "redis-master.redis.svc.cluster.local",
            )
        )
        scene.add_dep(
            Dep(
                "redis",
                Target(
                    "redis",
                    host,
                    f"10.{rng.randint(0, 9)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                    6379,
                    "default",
                ),
            ),
            users=callers[:2],
        )
    if spec.rabbitmq:
        mq = add(
            "StatefulSet",
            "rabbitmq",
            "rabbitmq",
            [Container("rabbitmq", "rabbitmq", "rabbitmq:3.13.7-management", 1024, 5672)],
            1,
        )
        host = f"rabbitmq.{namespace}.svc.cluster.local" if fqdn else "rabbitmq"
        users = [w for w in scene.workloads if w.role in ("api", "worker")]
        scene.add_dep(
            Dep("rabbitmq", Target("rabbitmq", host, mq.service_ip, 5672, user), server=mq), users=users
        )
        for workload in users:
            workload.config.broker_url = f"amqp://{user}:**@{host}:5672//"


def _externals(rng, scene, spec, apis, workers, crons, domain, namespace) -> None:
    def ip() -> str:
        return f"10.{rng.randint(0, 9)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"

    if spec.kafka:
        host = rng.choice(
            (
                "kafka-bootstrap.kafka.svc.cluster.local",
                "events-kafka-bootstrap.kafka.svc",
                f"b-1.msk-prod.{rng.getrandbits(24):06x}.c2.kafka.eu-central-1.amazonaws.com",
            )
        )
        scene.add_dep(Dep("kafka", Target("kafka", host, ip(), 9092)), users=[*workers, *apis[:1]])
    for index, host in enumerate(rng.sample(_UPSTREAMS, spec.upstreams)):
        public = f"{rng.randint(3, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 250)}"
        scene.add_dep(
            Dep(
                f"upstream{index}",
                Target("http", host, public, 443, scheme="https", san=(host, f"*.{host.split('.', 1)[-1]}")),
            ),
            users=apis[:1] + workers,
        )
    if spec.internal_upstream:
        other = rng.choice([name for name in DOMAINS if name != domain])
        host = rng.choice(
            (f"{other}-api.{other}.svc.cluster.local", f"{other}-api.{other}", f"{other}.{other}.svc")
        )
        san = (f"{other}-api.{other}.svc.cluster.local", f"{other}-api.{other}.svc")
        scene.add_dep(
            Dep(
                "internal",
                Target("http", host, f"10.96.{rng.randint(0, 255)}.{rng.randint(2, 250)}", 8080, san=san),
            ),
            users=apis,
        )
    if spec.s3:
        scene.add_dep(
            Dep("s3", Target("s3", "s3.eu-central-1.amazonaws.com", "52.219.170.12", 443, scheme="https")),
            users=[*crons, *workers] or apis[:1],
        )
