"""Few-shot leakage: copies of a worked example are found; the window's own words are not copies."""

from __future__ import annotations

import yaml

from app.prompts.leakage import find_leaks, identifiers, phrases, shared_text
from app.prompts.registry import PromptExample, PromptVersion, prompt_sha256
from app.rca import RootCauseAnalysis

# An example in the style of the shipped prompts before the fix, with a story a model can copy.
CART = PromptExample(
    logs=[
        "[1] 09:12:01Z checkout/cart-5c8d-h2 INFO GET /cart 200 12ms",
        "[2] 09:12:40Z checkout/cart-5c8d-h2 WARN GC overhead 91%",
        "[3] 09:12:44Z kube-events Warning OOMKilling Memory cgroup out of memory: Killed process 4121 (java)",
        "[4] 09:12:46Z kube-events Warning BackOff Back-off restarting failed container cart",
    ],
    answer=RootCauseAnalysis(
        root_cause="oom_killed",
        confidence=0.9,
        evidence=[3, 2, 4],
        summary="The cart JVM ran out of memory and was OOM-killed; the restarts follow from it.",
    ),
)
HEALTHY = PromptExample(
    logs=["[1] 08:00:00Z web/frontend-77f-9k INFO GET /healthz 200 1ms (x240)"],
    answer=RootCauseAnalysis(
        root_cause="healthy",
        confidence=0.85,
        evidence=[],
        summary="Only successful requests; nothing failed.",
    ),
)
PAYMENTS = "\n".join(
    [
        "payments api-7d9f ERROR dial tcp 10.0.3.7:5432: connect: connection refused",
        "payments api-7d9f WARN Back-off restarting failed container api",
    ]
)


def test_the_reported_leak_is_found() -> None:
    # The summary the issue quotes, about a window with no cart, no JVM and no OOM kill in it.
    report = find_leaks(
        "The cart JVM ran out of memory and was OOMKILLED", [1], [CART, HEALTHY], window_text=PAYMENTS
    )
    assert report.leaked
    assert "cart jvm ran out" in report.phrases
    assert "copies phrases" in report.describe()


def test_identifiers_are_found_whole_and_case_blind() -> None:
    report = find_leaks("Pod CART-5C8D-H2 restarted", [], [CART], window_text=PAYMENTS)
    assert report.identifiers == ["cart-5c8d-h2"]
    # A longer name that merely starts like the example's is not a copy of it.
    assert not find_leaks("pod cart-5c8d-h2x restarted", [], [CART], window_text=PAYMENTS).identifiers


def test_words_the_window_itself_has_are_not_copies() -> None:
    window = PAYMENTS + "\ncheckout cart-5c8d-h2 ERROR the cart JVM ran out of memory"
    report = find_leaks("The cart JVM ran out of memory on cart-5c8d-h2.", [3], [CART], window_text=window)
    assert not report.leaked, report


def test_shared_prompt_text_is_not_a_copy() -> None:
    shared = "oom_killed: a container exceeded its memory limit and was killed by the kernel"
    report = find_leaks(
        "A container exceeded its memory limit and was killed by the kernel.",
        [],
        [CART],
        PAYMENTS,
        shared_text=shared,
    )
    assert not report.leaked


def test_a_faithful_answer_leaks_nothing() -> None:
    report = find_leaks(
        "The api cannot connect to its database at 10.0.3.7:5432 and restarts.",
        [1, 2],
        [CART, HEALTHY],
        window_text=PAYMENTS,
        cited_text=PAYMENTS.splitlines(),
    )
    assert not report.leaked
    assert report.describe() == "copies nothing from the worked examples"


def test_citing_exactly_an_examples_evidence_list_is_a_leak() -> None:
    assert find_leaks("The api restarts.", [3, 2, 4], [CART], PAYMENTS).same_evidence_as == [1]
    assert find_leaks("The api restarts.", [2, 3, 4], [CART], PAYMENTS).same_evidence_as == []
    # An empty list is what every healthy answer cites; it proves nothing.
    assert find_leaks("Nothing failed here.", [], [HEALTHY], PAYMENTS).same_evidence_as == []


def test_units_of_text() -> None:
    assert identifiers("OOMKilling on 10.96.0.10 for cart-5c8d-h2, not for cart or memory") == {
        "oomkilling",
        "10.96.0.10",
        "cart-5c8d-h2",
    }
    assert phrases("The cart JVM ran out") == {"the cart jvm ran", "cart jvm ran out"}
    assert phrases("it is in the of") == set()  # stopwords only


def few_shot_version(system: str) -> PromptVersion:
    """A prompt version with the CART example as its one worked example and ``system`` as its system block."""
    front = {"name": "few-shot", "examples": [CART.model_dump(mode="json")]}
    template = (
        f"---\n{yaml.safe_dump(front)}---\n{{% block system %}}{system}{{% endblock %}}\n"
        "{% block user %}{{ log_lines | join('\\n') }}{% endblock %}\n"
    )
    return PromptVersion(
        name="few-shot", sha256=prompt_sha256(template.encode()), description="", params={}, template=template
    )


def test_the_shared_text_keeps_instructions_and_taxonomy_but_not_talk_about_the_examples() -> None:
    version = few_shot_version(
        "Classify with one id:\n{% for cause in taxonomy %}- {{ cause.id }}: {{ cause.definition }}\n{% endfor %}"
        "The first exchange is a worked example; cart-5c8d-h2 is a placeholder. Answer about your own logs."
        "{% for e in examples %}{{ e.answer }}{% endfor %}"
    )
    shared = shared_text(version)
    assert "oom_killed: A container exceeded its memory limit" in shared
    assert "Answer about your own logs." in shared
    assert "cart-5c8d-h2" not in shared  # the sentence naming the example's pod is about the example
    assert "JVM ran out" not in shared  # examples the system block would loop over are left out
    # So an answer naming the example's pod is a copy, and the taxonomy's words are not.
    report = find_leaks(
        "cart-5c8d-h2 exceeded its memory limit and was killed",
        [],
        version.examples,
        "java",
        shared_text=shared,
    )
    assert report.identifiers == ["cart-5c8d-h2"]
    assert not any("memory limit" in phrase for phrase in report.phrases)
