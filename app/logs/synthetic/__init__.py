"""The synthetic-log engine: a namespace of a Kubernetes cluster, simulated, and what Loki returns for it.

Both the demo log source (``app.logs.demo``) and the golden-set generator (``app.golden.synthetic``)
build on it, so a component's lines look the same wherever they come from. Where to find what:

- ``formats``: timestamps and quoting shared by many formats (klog, Go's ``%q``, logfmt, JSON).
- ``events``: Kubernetes events exactly as Alloy's ``loki.source.kubernetes_events`` ships them
  (its logfmt line and labels), with the kubelet's de-duplication and spam filter.
- ``cluster``: nodes, workloads, pods and containers, and the stream labels Alloy and Loki give them.
- ``timeline``: lines placed at times in a window; turned into entries in time order.
- ``faults``: how each runtime's client libraries word a failure (refused, timed out, DNS, TLS, auth).
- ``runtimes/``: application log formats (Go zap/slog/logrus, Spring Boot, Python, Node.js).
- ``servers``: PostgreSQL, Redis, PgBouncer, RabbitMQ, nginx and Envoy, each in its own format.
- ``lifecycle``: what the kubelet and controllers say around a pod's life (starts, crashes, back-off,
  probes, pulls, mounts, scheduling, evictions, Jobs).
- ``scene``: one namespace over a time window: its workloads, their benign traffic, outages of the
  things they call, and the finished window.
"""
