"""Short names for where a line came from: the workload plus a replica mark, once per window.

``payments/api-7d9f8b6c5d-x2k4p`` becomes ``api`` when it is the only pod of its workload in the window,
else ``api#2`` (numbered in order of first appearance). StatefulSet pods (``postgres-0``) keep their
names. Lines without a pod are named by the last part of their ``job`` label (``eventhandler``,
``kubelet``), plus the node when several nodes speak. The namespace is left out (the prompt's header
has it) unless two namespaces have a workload of the same name. Pod names inside the text are
shortened the same way, so ``object=pod/api-7d9f8b6c5d-x2k4p`` reads ``object=pod/api#2``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from app.logs.models import LogEntry

# The k8s name generator's alphabet (no vowels, no 0/1/3) makes generated suffixes recognisable.
POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"
# A Deployment's pod: workload, ReplicaSet hash, replica suffix. A DaemonSet's or Job's: workload, suffix.
# The replica suffix is matched loosely after a ReplicaSet hash: some generators use other characters.
_DEPLOYMENT_POD = re.compile(rf"^(?P<workload>[a-z0-9][a-z0-9-]*?)-[{POD_CHARS}]{{6,10}}-[a-z0-9]{{5}}$")
_SUFFIXED_POD = re.compile(rf"^(?P<workload>[a-z0-9][a-z0-9-]*?)-[{POD_CHARS}]{{5}}$")
_REPLICA_SET = re.compile(rf"^(.*-[{POD_CHARS}]{{6,10}})-[a-z0-9]{{5}}$")
_SUFFIXED_POD_TAIL = re.compile(rf"-[{POD_CHARS}]{{5}}$")
# Deployment pod names inside text; the lookarounds keep them from matching inside longer words.
_POD_IN_TEXT = re.compile(
    rf"(?<![\w.-])[a-z0-9][a-z0-9-]*?-[{POD_CHARS}]{{6,10}}-[{POD_CHARS}]{{5}}(?![\w-])"
)


@functools.lru_cache(maxsize=4096)  # pod names repeat across records and windows
def replica_set_of(pod: str) -> str:
    """The ReplicaSet (or DaemonSet) a pod name belongs to: the name without its replica suffix."""
    match = _REPLICA_SET.match(pod)
    if match:
        return match.group(1)
    return _SUFFIXED_POD_TAIL.sub("", pod)


def workload_of(pod: str) -> str:
    """The workload a pod name belongs to (the name itself when it has no generated suffix)."""
    match = _DEPLOYMENT_POD.match(pod) or _SUFFIXED_POD.match(pod)
    return match.group("workload") if match else pod


def _job_name(job: str) -> str:
    """A short name for a node- or cluster-level source from its job label.

    'integrations/kubernetes/eventhandler' and 'loki.source.kubernetes_events' both read 'events';
    otherwise the last part: 'integrations/kubernetes/kubelet' reads 'kubelet'.
    """
    tail = re.split(r"[/.]", job)[-1]
    return "events" if "event" in tail.lower() else tail


class SourceNames:
    """The short names of one window's sources, and the legend back to full names."""

    def __init__(self, entries: Sequence[LogEntry], order: Sequence[int]) -> None:
        # Pods in order of first appearance, with the text mentions of pods that never log themselves
        # (a Pending pod in events), so marks are stable and unique within the window.
        pods: dict[tuple[str, str], None] = {}
        containers: dict[tuple[str, str], set[str]] = {}
        nodes_of_job: dict[str, set[str]] = {}
        for i in order:
            entry = entries[i]
            labels = entry.labels
            pod = labels.get("pod", "")
            namespace = labels.get("namespace", "")
            if pod:
                pods.setdefault((namespace, pod), None)
                containers.setdefault((namespace, pod), set()).add(labels.get("container", ""))
            else:
                nodes_of_job.setdefault(labels.get("job", ""), set()).add(labels.get("node", ""))
            # Every pod a line names gets a short name too, so two pods named in text never read alike.
            # Cluster- and node-level sources name pods; an application line only when it says "pod".
            if "-" in entry.line and (not pod or "pod" in entry.line):
                for mention in _POD_IN_TEXT.findall(entry.line):
                    if mention != pod:
                        pods.setdefault((namespace, mention), None)
        by_workload: dict[str, list[tuple[str, str]]] = {}
        for namespace, pod in pods:
            by_workload.setdefault(workload_of(pod), []).append((namespace, pod))
        self._short: dict[tuple[str, str], str] = {}
        self._by_pod: dict[str, str] = {}
        for workload, members in by_workload.items():
            namespaces = {namespace for namespace, _ in members}
            for mark, (namespace, pod) in enumerate(members, start=1):
                name = workload if workload == pod or len(members) == 1 else f"{workload}#{mark}"
                if len(namespaces) > 1:
                    name = f"{namespace}/{name}"
                self._short[(namespace, pod)] = name
                self._by_pod.setdefault(pod, name)
        self._multi_container = {key for key, names in containers.items() if len(names) > 1}
        self._multi_node = {job for job, nodes in nodes_of_job.items() if len(nodes) > 1}

    def source(self, entry: LogEntry) -> str:
        """The short name of the entry's source."""
        labels = entry.labels
        pod = labels.get("pod", "")
        namespace = labels.get("namespace", "")
        if pod:
            name = self._short.get((namespace, pod), pod)
            if (namespace, pod) in self._multi_container and labels.get("container"):
                name = f"{name}/{labels['container']}"
            return name
        job = labels.get("job", "")
        name = _job_name(job) or labels.get("container", "") or labels.get("app", "")
        node = labels.get("node", "")
        if node and job in self._multi_node:
            name = f"{name}@{node.split('.', 1)[0]}"
        return name

    def rewrite(self, text: str) -> str:
        """``text`` with the window's pod names replaced by their short names."""
        if "-" not in text:
            return text
        return _POD_IN_TEXT.sub(lambda match: self._by_pod.get(match.group(0), match.group(0)), text)

    def legend(self) -> dict[str, str]:
        """Short name -> full pod name, for the pods whose names were shortened."""
        legend: dict[str, str] = {}
        for (namespace, pod), name in self._short.items():
            if name != pod:
                legend[name] = f"{namespace}/{pod}" if namespace else pod
        return legend
