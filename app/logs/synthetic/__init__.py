"""The synthetic-log engine: a namespace of a Kubernetes cluster, simulated, and what Loki returns for it.

Both the demo log source (``app.logs.demo``) and the golden-set generator (``app.golden.synthetic``)
build on it, so a component's lines look the same wherever they come from. Where to find what:

Bottom up (each module imports only the ones above it in this list):

- ``formats``: timestamps and quoting shared by many formats (klog, Go's ``%q``, logfmt, JSON).
- ``timeline``: lines placed at times in a window; turned into entries in time order.
- ``events``: Kubernetes events exactly as Alloy's ``loki.source.kubernetes_events`` ships them
  (its logfmt line and labels), with the kubelet's de-duplication and spam filter.
- ``cluster``: nodes, workloads, pods and containers, and the stream labels Alloy and Loki give them.
- ``faults``, ``clients/``, ``code``: how each runtime's client libraries word a failure (refused,
  timed out, DNS, TLS, auth) and the application frames a stack trace passes through.
- ``runtimes/``: application log formats (Go zap/slog/logrus, Spring Boot, Python, Node.js);
  ``datastores`` and ``proxies``: PostgreSQL, Redis, PgBouncer, RabbitMQ, nginx and Envoy.
- ``parts``: what a scene is made of: containers' processes and runs, dependencies, outages, bugs.
- ``scene``: one namespace over a time window: its state and the primitives that write into it.
- ``components``: the format writer of each container.
- ``lifecycle``: what the kubelet and controllers say around a pod's life (starts, crashes, back-off,
  probes, pulls, mounts, scheduling, evictions); every pod's processes are created here.
- ``startup``, ``calls``, ``jobs``, ``memory``, ``traffic``: what containers write over their runs:
  start-up and shutdown, failed calls and reconnects, CronJobs, memory climbs, and benign traffic.
- ``stack``: the top: draws what runs in a namespace and builds the scene (``compose``), then writes
  its traffic and returns the window's lines (``finish``).
"""
