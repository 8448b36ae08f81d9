"""Kubernetes events as Alloy ships them, with the API server's and client-go's bookkeeping."""

from __future__ import annotations

import itertools
import random
import re

import yaml

from app.logs.synthetic.cluster import Cluster
from app.logs.synthetic.events import (
    EVENTS_COMPONENT_LABEL,
    EVENTS_INSTANCE,
    EVENTS_JOB,
    EventRecorder,
    ObjectRef,
    Reporter,
    alloy_event_line,
    event_labels,
)
from app.logs.synthetic.timeline import Timeline
from tests.logs.synthetic import ALLOY_CONFIG, alloy_config, first_group

START_NS = 1_795_000_000_000_000_000
POD = ObjectRef("Pod", "api-7d9f8b6c4-x2k9p", "0f1e2d3c-4b5a-4697-8877-66554433aa01")
KUBELET = Reporter("kubelet", host="worker-2")


def recorder() -> tuple[EventRecorder, Timeline]:
    timeline = Timeline(START_NS, 7200)
    return EventRecorder(timeline, "payments", random.Random(1)), timeline


def test_the_line_has_alloys_fields_in_alloys_order_with_a_go_quoted_message() -> None:
    line = alloy_event_line(
        name="api-0", kind="Pod", api_version="v1", object_rv=12, event_rv=34, reason="BackOff", type_="Warning",
        message='Back-off "restarting"\tfailed\n', count=3, reporting_controller="kubelet", reporting_instance="n1",
        source_component="kubelet", source_host="n1",
    )  # fmt: skip

    assert line == (
        "name=api-0 kind=Pod objectAPIversion=v1 objectRV=12 eventRV=34 reportinginstance=n1 reportingcontroller=kubelet "
        'sourcecomponent=kubelet sourcehost=n1 reason=BackOff type=Warning count=3 msg="Back-off \\"restarting\\"\\tfailed\\n" '
    )


def test_repeats_of_one_event_count_up_and_every_update_reaches_loki() -> None:
    events, timeline = recorder()
    for second in range(5):
        events.record(
            100 + second * 10, POD, KUBELET, "Warning", "BackOff", "Back-off restarting failed container api"
        )

    counts = [int(first_group(r"count=(\d+)", line.text)) for line in timeline.finish()]
    assert counts == [1, 2, 3, 4, 5]


def test_legacy_events_are_stamped_to_the_second_and_series_events_to_the_microsecond() -> None:
    events, timeline = recorder()
    scheduler = Reporter("default-scheduler", instance="default-scheduler-control-plane-1")
    events.record(10.123456789, POD, KUBELET, "Normal", "Pulled", "Container image present")
    events.record(
        20.123456789,
        POD,
        scheduler,
        "Warning",
        "FailedScheduling",
        "0/3 nodes are available",
        action="Scheduling",
    )

    pulled, failed = timeline.finish()
    assert pulled.ts_ns % 1_000_000_000 == 0
    assert failed.ts_ns % 1_000 == 0
    assert failed.ts_ns % 1_000_000_000 != 0
    assert "action=Scheduling" in failed.text
    assert "sourcecomponent" not in failed.text
    assert "count=" not in failed.text


def test_the_spam_filter_lets_25_events_through_then_one_every_five_minutes() -> None:
    events, timeline = recorder()
    for index in range(200):
        events.record(
            index * 10.0, POD, KUBELET, "Warning", "BackOff", "Back-off restarting failed container api"
        )

    stamps = [(line.ts_ns - START_NS) / 1e9 for line in timeline.finish()]
    assert len(stamps[:25]) == 25
    assert stamps[24] == 240
    later = stamps[25:]
    assert later, "the bucket refills"
    assert all(b - a >= 290 for a, b in itertools.pairwise(later))


def test_more_than_ten_variants_of_one_reason_are_combined() -> None:
    events, timeline = recorder()
    for index in range(12):
        events.record(
            index, POD, KUBELET, "Warning", "FailedMount", f"MountVolume.SetUp failed for volume v{index}"
        )

    texts = [line.text for line in timeline.finish()]
    assert not any("combined from similar events" in text for text in texts[:9])
    assert all("(combined from similar events): " in text for text in texts[9:])


def test_resource_versions_are_unique() -> None:
    events, timeline = recorder()
    for index in range(300):
        events.record(
            index * 0.001,
            ObjectRef("Pod", f"p{index}", str(index)),
            KUBELET,
            "Normal",
            "Started",
            "Started container app",
        )

    versions = [first_group(r"eventRV=(\d+)", line.text) for line in timeline.finish()]
    assert len(versions) == len(set(versions)) == 300


def test_labels_are_those_the_alloy_config_in_k8s_sets() -> None:
    """The engine's event stream labels follow the component declared in k8s/'s Alloy config."""
    config = alloy_config()
    block = re.search(r'loki\.source\.kubernetes_events "(?P<label>[^"]+)" \{(?P<body>[^}]*)\}', config)
    assert block, f"{ALLOY_CONFIG} has no loki.source.kubernetes_events component"
    job = re.search(r'job_name\s*=\s*"([^"]+)"', block["body"])
    log_format = re.search(r'log_format\s*=\s*"([^"]+)"', block["body"])

    assert block["label"] == EVENTS_COMPONENT_LABEL
    assert (job[1] if job else "loki.source.kubernetes_events") == EVENTS_JOB
    assert (log_format[1] if log_format else "logfmt") == "logfmt"
    assert event_labels("payments") == {
        "instance": EVENTS_INSTANCE,
        "job": EVENTS_JOB,
        "namespace": "payments",
        "service_name": EVENTS_JOB,
    }


def test_pod_labels_are_those_the_alloy_relabel_rules_set_plus_lokis_service_name() -> None:
    config = alloy_config()
    targets = set(re.findall(r'target_label\s*=\s*"([^"]+)"', config))
    cluster = Cluster.create(random.Random(3))
    from app.logs.synthetic.cluster import Container

    workload = cluster.new_workload(
        "Deployment", "api", "api", [Container("api", "go-zap", "x:1", 256)], replicas=1
    )
    pod = cluster.new_pod(workload, "payments")

    assert set(pod.labels(workload.main)) - {"service_name"} <= targets
    assert {"namespace", "pod", "container", "node"} <= set(pod.labels(workload.main))


def test_the_alloy_manifest_parses() -> None:
    documents = list(yaml.safe_load_all(ALLOY_CONFIG.read_text()))
    assert documents[0]["kind"] == "HelmRelease"
