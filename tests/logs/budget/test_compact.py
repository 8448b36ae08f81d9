from __future__ import annotations

import pytest

from app.logs.budget.compact import compact_continuation, compact_text, single_line
from app.logs.budget.tokens import estimate_tokens
from app.logs.models import Level


@pytest.mark.parametrize(
    ("line", "level", "compact"),
    [
        # JSON: message first, time, level and per-process noise gone, punctuation gone.
        (
            '{"level":"info","ts":1797287499.539076,"caller":"server/middleware.go:61","msg":"request completed",'
            '"method":"GET","status":404,"duration_ms":26.20}',
            "info",
            "request completed caller=server/middleware.go:61 method=GET status=404 duration_ms=26.20",
        ),
        (
            '{"level":50,"time":1797691433083,"pid":1,"hostname":"pricing-f9d749b764-ls5gv","status":503,'
            '"err":{"code":"ECONNREFUSED"},"msg":"call to pricing failed"}',
            "error",
            'call to pricing failed status=503 err={"code":"ECONNREFUSED"}',
        ),
        # logfmt.
        (
            'time=2026-01-02T03:04:05.123456789Z level=warn msg="retrying call" attempt=2 err="context deadline"',
            "warn",
            'retrying call attempt=2 err="context deadline"',
        ),
        # Kubernetes events in the shape of a type/reason/object line: the type is the line's level.
        (
            'type=Warning reason=BackOff object=pod/api-7d9f8b6c5d-x2k4p message="Back-off restarting failed container"',
            "warn",
            "BackOff pod/api-7d9f8b6c5d-x2k4p: Back-off restarting failed container",
        ),
        # ... and in Alloy's shape.
        (
            "name=api-7d9f8b6c5d-x2k4p.17f3a2b4c5d6e7f8 kind=Pod action=Killing objectAPIversion=v1 objectRV=88 "
            'reason=Killing type=Normal sourcecomponent=kubelet msg="Stopping container api"',
            "info",
            "Killing pod/api-7d9f8b6c5d-x2k4p: Stopping container api sourcecomponent=kubelet",
        ),
        # ... and as kubernetes-event-exporter's JSON.
        (
            '{"type":"Warning","reason":"FailedMount","involvedObject":{"kind":"Pod","name":"db-0"},'
            '"message":"MountVolume.SetUp failed"}',
            "warn",
            "FailedMount pod/db-0: MountVolume.SetUp failed",
        ),
        # Leading timestamps and level words of common formats.
        (
            "2026-12-05 13:16:47,012 INFO [query.app] cache refreshed entries=11602",
            "info",
            "[query.app] cache refreshed entries=11602",
        ),
        (
            "2026-12-05T13:18:32.226Z ERROR 1 --- [nio-8080-exec-4] c.e.search.client.ApiClient     : Call to search-api failed",
            "error",
            "c.e.search.client.ApiClient: Call to search-api failed",
        ),
        (
            'E1216 12:48:54.739043    2908 pod_workers.go:1298] "Error syncing pod, skipping" err="back-off"',
            "error",
            '"Error syncing pod, skipping" err="back-off"',
        ),
        (
            "2026-12-18 13:19:06.843 UTC [1] LOG:  database system is shut down",
            "info",
            "database system is shut down",
        ),
        ("1:M 05 Aug 2026 20:48:47.681 * DB saved on disk", "info", "* DB saved on disk"),
        (
            "[2026-08-05 20:48:48,885] INFO [GroupCoordinator 0]: Stabilized group billing (kafka.coordinator.group)",
            "info",
            "[GroupCoordinator 0]: Stabilized group billing (kafka.coordinator.group)",
        ),
        (
            "Dec  5 13:16:47 node-1 kernel: Out of memory: Killed process 4121 (java)",
            "error",
            "node-1 kernel: Out of memory: Killed process 4121 (java)",
        ),
        # Access logs: the client's padding, the date, the protocol and the platform of the agent go.
        (
            '10.0.4.186 - - [08/Dec/2026:03:46:37 +0000] "GET /oauth2/userinfo HTTP/1.1" 502 517 "-" '
            '"Mozilla/5.0 (X11; Linux x86_64)" 209 0.024 [auth-server-8080] [] 10.244.3.99:8080 517 0.024 502 '
            "c71d6634e6d32a4fe7a6c36478a3c627",
            "unknown",
            '10.0.4.186 "GET /oauth2/userinfo" 502 517 "Mozilla/5.0" 209 0.024 [auth-server-8080] 10.244.3.99:8080 '
            "517 0.024 502 <id>",
        ),
        # Ids that mean nothing to a reader.
        (
            "processed order 7f452b69-98a6-1c0d-d075-b6261269e07a in 12ms",
            "info",
            "processed order <id> in 12ms",
        ),
        # A level word that disagrees with the line's level stays: it is content.
        ("ERROR budget report: errors_total=0", "info", "ERROR budget report: errors_total=0"),
        # Prose with '=' that is not logfmt stays as it is.
        ("the value x=1 was out of range", "unknown", "the value x=1 was out of range"),
    ],
)
def test_a_line_keeps_its_facts_in_fewer_tokens(line: str, level: Level, compact: str) -> None:
    result = compact_text(line, level)

    assert result == compact
    assert estimate_tokens(result) <= estimate_tokens(line)


def test_pod_names_are_shortened_by_the_given_rename() -> None:
    line = 'type=Warning reason=BackOff object=pod/api-7d9f8b6c5d-x2k4p message="Back-off"'

    assert compact_text(line, "warn", lambda text: text.replace("api-7d9f8b6c5d-x2k4p", "api#2")) == (
        "BackOff pod/api#2: Back-off"
    )


def test_json_numbers_are_shown_as_written() -> None:
    assert compact_text('{"msg":"slow","took":0.070,"big":12345678901234567890}', "info") == (
        "slow took=0.070 big=12345678901234567890"
    )


@pytest.mark.parametrize("line", ["{not json}", '{"a": [1, 2', "[]", "{}"])
def test_broken_or_odd_json_falls_back_to_the_text(line: str) -> None:
    assert compact_text(line, "info") == line


def test_embedded_line_breaks_and_undecodable_bytes_are_made_visible() -> None:
    assert single_line("a\r\nb\nc\rd\n") == "a\\nb\\nc\\rd"
    assert single_line("bad \udcff byte") == "bad \\udcff byte"


def test_a_stack_frame_loses_its_directories_and_indentation() -> None:
    frame = '  File "/usr/local/lib/python3.12/site-packages/urllib3/connectionpool.py", line 466, in _make_request'

    assert compact_continuation(frame) == 'File ".../urllib3/connectionpool.py", line 466, in _make_request'
    assert compact_continuation("\tat com.acme.Foo.bar(Foo.java:12)") == "at com.acme.Foo.bar(Foo.java:12)"
