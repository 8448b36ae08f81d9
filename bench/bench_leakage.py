"""Few-shot leakage before and after: the old worked examples against the placeholder ones, on SmolLM2.

The few-shot prompt's worked examples used to be concrete stories ("The cart JVM ran out of memory and
was OOM-killed"), and a small model copied them into answers about other windows. They now live in the
front matter with placeholder names and generic wording. This runs the Q4_1 release over one stratified
slice of the golden set with the prompt as it was (``BEFORE_REVISION`` of ``prompts/rca-evidence-first.j2``,
read from git) and as it is, through the real ``EvalRunner``, and counts the answers whose summary or
cited lines copy a worked example (``app/prompts/leakage.py``), with the same general test for both.

Run: ``uv run python bench/bench_leakage.py [--per-class 1] [--seed 7] [--revisions 1127747,worktree]``.
Needs the git history; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_ladder import stratified

from app.config import PROJECT_ROOT, get_settings
from app.evals.runner import EvalRequest, EvalRunner, load_items
from app.golden.schema import GoldenExample
from app.llm import smollm2
from app.llm.server import serve_local_models
from app.prompts.leakage import find_leaks
from app.prompts.registry import PromptExample, PromptRegistry, example_context, render_prompt
from app.rca import RootCauseAnalysis
from app.services import build_services

SHARED_PROMPT = "rca-zero-shot"  # its instructions and taxonomy are words any answer may repeat
BEFORE_REVISION = "1127747"  # the last commit with the inline, concrete examples
WORKTREE = "worktree"
PROMPT_FILE = "prompts/rca-evidence-first.j2"
_INLINE_EXAMPLE = re.compile(r"Logs:\n(?P<logs>(?:\[\d+\][^\n]*\n)+)Answer: (?P<answer>\{[^\n]*\})")


def inline_examples(template: str) -> list[PromptExample]:
    """The worked examples written into an old template's text ('Logs:' lines, then 'Answer: {...}')."""
    return [
        PromptExample(
            logs=match["logs"].splitlines(), answer=RootCauseAnalysis.model_validate_json(match["answer"])
        )
        for match in _INLINE_EXAMPLE.finditer(template)
    ]


def leak_report(
    runner: EvalRunner,
    run_id: str,
    examples: list[PromptExample],
    by_id: dict[str, GoldenExample],
    shared: str,
) -> tuple[int, int, list[str]]:
    """(answers that copy an example, answers, a few of the copies described)."""
    leaked, answered, notes = 0, 0, []
    for item in load_items(runner.engine, run_id):
        if not item.parsed:
            continue
        answered += 1
        window = "\n".join(entry.line for entry in by_id[item.example_id].to_log_entries())
        report = find_leaks(
            str(item.parsed.get("summary", "")), list(item.parsed.get("evidence", [])), examples, window,
            shared_text=shared,
        )  # fmt: skip
        if report.leaked:
            leaked += 1
            if len(notes) < 4:
                notes.append(
                    f"{item.example_id}: {item.parsed.get('summary', '')!r} {report.describe()[:160]}"
                )
    return leaked, answered, notes


def prompt_at(revision: str) -> str:
    """The few-shot prompt file at a git revision, or as it is on disk for ``worktree``."""
    if revision == WORKTREE:
        return (PROJECT_ROOT / PROMPT_FILE).read_text(encoding="utf-8")
    return subprocess.run(
        ["git", "show", f"{revision}:{PROMPT_FILE}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main() -> None:
    """Run each version of the few-shot prompt on the same slice and print the leak counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--revisions",
        default=f"{BEFORE_REVISION},{WORKTREE}",
        help="git revisions of the prompt, or 'worktree'",
    )
    args = parser.parse_args()
    settings = get_settings()
    if settings.models_file is not None:
        sys.exit("bench_leakage runs the local SmolLM2 Q4_1; unset MODELS_FILE")
    services = build_services(settings)
    runner = services.eval_runner
    versions = []
    for revision in args.revisions.split(","):
        text = prompt_at(revision.strip())
        with tempfile.TemporaryDirectory(prefix="bench-leakage-") as tmp:
            (Path(tmp) / "rca-evidence-first.j2").write_text(text, encoding="utf-8")
            # Recording the file in the store makes it resolvable by its hash, like any stored version.
            (version,) = PromptRegistry(Path(tmp), runner.engine).sync()
        versions.append((revision.strip(), version, version.examples or inline_examples(text)))
    chosen = stratified(runner.load_golden(), args.per_class, args.seed)
    by_id = {example.id: example for example in chosen}
    shared = render_prompt(runner.registry.resolve(SHARED_PROMPT), example_context()).system
    model = smollm2.model_name(smollm2.RELEASE_QUANTIZATION)
    servers = serve_local_models(settings, only=[model], progress=lambda m: print(f"  {m}", file=sys.stderr))
    results = []
    try:
        for label, version, examples in versions:
            header = runner.run(
                EvalRequest(prompt=version.ref, model=model, use_cache=False), examples=chosen
            )
            assert header.summary is not None
            leaked, answered, notes = leak_report(runner, header.id, examples, by_id, shared)
            results.append(
                (label, version.ref, len(examples), leaked, answered, header.summary.accuracy, notes)
            )
            print(f"  {label}: {leaked}/{answered} answers copy a worked example", file=sys.stderr)
    finally:
        for server in servers:
            server.stop()
    print(
        f"few-shot leakage on {model}, {len(chosen)} golden examples ({args.per_class} per class, seed {args.seed})"
    )
    print()
    print("| prompt at | version | worked examples | answers copying one | accuracy |")
    print("| --- | --- | ---: | ---: | ---: |")
    for label, ref, count, leaked, answered, accuracy, _ in results:
        print(
            f"| {label} | `{ref}` | {count} | {leaked}/{answered} ({leaked / max(answered, 1):.0%}) | {accuracy:.3f} |"
        )
    for label, _, _, _, _, _, notes in results:
        for note in notes:
            print(f"  {label}: {note}")


if __name__ == "__main__":
    main()
