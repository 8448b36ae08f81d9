from __future__ import annotations

from app.logs.budget.names import SourceNames, workload_of
from app.logs.models import LogEntry


def entry(labels: dict[str, str], line: str = "ok", ts: int = 0) -> LogEntry:
    return LogEntry(ts_ns=ts, labels=labels, line=line)


def pod(name: str, namespace: str = "shop", container: str = "app") -> dict[str, str]:
    return {"namespace": namespace, "pod": name, "container": container}


def names_of(entries: list[LogEntry]) -> SourceNames:
    return SourceNames(entries, list(range(len(entries))))


def test_workloads_are_read_from_generated_pod_names() -> None:
    assert workload_of("payments-api-7d9f8b6c5d-x2k4p") == "payments-api"
    assert workload_of("fluent-bit-x2k4p") == "fluent-bit"
    assert workload_of("postgres-0") == "postgres-0"
    assert workload_of("standalone") == "standalone"


def test_replicas_get_marks_in_order_of_appearance_and_a_lone_pod_its_workload() -> None:
    entries = [
        entry(pod("api-7d9f8b6c5d-x2k4p")),
        entry(pod("worker-5c6d7f8b9c-b2c4d")),
        entry(pod("api-7d9f8b6c5d-q8w2z")),
        entry(pod("postgres-0")),
    ]

    names = names_of(entries)

    assert [names.source(e) for e in entries] == ["api#1", "worker", "api#2", "postgres-0"]
    assert names.legend() == {
        "api#1": "shop/api-7d9f8b6c5d-x2k4p",
        "api#2": "shop/api-7d9f8b6c5d-q8w2z",
        "worker": "shop/worker-5c6d7f8b9c-b2c4d",
    }


def test_node_and_cluster_sources_are_named_by_their_job_and_node_when_nodes_differ() -> None:
    events = {"namespace": "shop", "job": "integrations/kubernetes/eventhandler"}
    alloy_events = {"namespace": "shop", "job": "loki.source.kubernetes_events"}
    kubelet_a = {
        "namespace": "shop",
        "job": "integrations/kubernetes/kubelet",
        "node": "ip-10-0-1-2.ec2.internal",
    }
    kubelet_b = {
        "namespace": "shop",
        "job": "integrations/kubernetes/kubelet",
        "node": "ip-10-0-3-4.ec2.internal",
    }
    journal = {"namespace": "shop", "job": "integrations/node_exporter/journal", "node": "node-1"}
    entries = [entry(events), entry(alloy_events), entry(kubelet_a), entry(kubelet_b), entry(journal)]

    names = names_of(entries)

    assert [names.source(e) for e in entries] == [
        "events",
        "events",
        "kubelet@ip-10-0-1-2",
        "kubelet@ip-10-0-3-4",
        "journal",
    ]


def test_same_workload_name_in_two_namespaces_keeps_the_namespace() -> None:
    entries = [entry(pod("api-7d9f8b6c5d-x2k4p")), entry(pod("api-6c8b9d7f4-m4n7t", namespace="payments"))]

    names = names_of(entries)

    assert [names.source(e) for e in entries] == ["shop/api#1", "payments/api#2"]


def test_a_pod_with_sidecars_names_the_container() -> None:
    entries = [
        entry(pod("api-7d9f8b6c5d-x2k4p")),
        entry(pod("api-7d9f8b6c5d-x2k4p", container="istio-proxy")),
    ]

    names = names_of(entries)

    assert [names.source(e) for e in entries] == ["api/app", "api/istio-proxy"]


def test_pods_named_in_text_read_like_the_sources_and_never_alike() -> None:
    events = {"namespace": "shop", "job": "integrations/kubernetes/eventhandler"}
    entries = [
        entry(pod("api-7d9f8b6c5d-x2k4p")),
        entry(events, "type=Warning reason=FailedScheduling object=pod/api-6c8b9d7f4-m4n7t message=x"),
    ]

    names = names_of(entries)

    assert names.rewrite("pod/api-7d9f8b6c5d-x2k4p and pod/api-6c8b9d7f4-m4n7t") == "pod/api#1 and pod/api#2"
    assert names.rewrite("sha-7d9f8b6c5d-x2k4pz stays") == "sha-7d9f8b6c5d-x2k4pz stays"
