"""Audits of a golden set that need development-only libraries (scikit-learn): run by tests and for the card.

    uv run python -m tests.golden.audit golden/synthetic-v2.jsonl

- ``bag_of_words``: a tf-idf + logistic-regression classifier's accuracy with random folds and with
  folds grouped by scenario. A set that rewards memorising its templates scores far better with
  random folds, where a scenario's siblings sit in the training folds.
- ``giveaways``: names (containers, apps, formats) that appear almost only in windows of one class.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict

from app.golden.jsonl import load_golden_dir, read_jsonl
from app.golden.schema import GoldenExample
from app.golden.stats import scenario_of

FOLDS = 5
# Words only: numbers, ids and hex are different in every window and say nothing about the class.
TOKENS = r"(?u)\b[A-Za-z_][A-Za-z0-9_]{1,}\b"


@dataclass(frozen=True)
class BagOfWords:
    """Accuracy of the same classifier under random folds and under folds grouped by scenario."""

    random_folds: float
    grouped_folds: float

    @property
    def gap(self) -> float:
        """How much better random folds score: what memorising templates buys."""
        return self.random_folds - self.grouped_folds


def window_text(example: GoldenExample) -> str:
    """What a bag of words reads of a window: each line with its container's name."""
    return "\n".join(f"{log.labels.get('container', '')} {log.line}" for log in example.logs)


def bag_of_words(examples: Sequence[GoldenExample], seeds: Sequence[int] = (0, 1)) -> BagOfWords:
    """Cross-validated accuracy of tf-idf + logistic regression, random and grouped folds, averaged over fold seeds.

    One split of 520 examples into five folds moves the gap by a few points; the mean of two splits is
    what the check reads.
    """
    texts = [window_text(example) for example in examples]
    labels = np.array([example.label.root_cause for example in examples])
    groups = [scenario_of(example) for example in examples]
    # Fitted on all windows: the vocabulary carries no label, and refitting per fold costs minutes.
    features = TfidfVectorizer(
        sublinear_tf=True, min_df=2, max_features=50_000, token_pattern=TOKENS, dtype=np.float32
    ).fit_transform(texts)
    model = LogisticRegression(max_iter=2000, C=10.0)
    random_scores, grouped_scores = [], []
    for seed in seeds:
        random = cross_val_predict(
            model, features, labels, cv=StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
        )
        grouped = cross_val_predict(
            model,
            features,
            labels,
            cv=StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed),
            groups=groups,
        )
        random_scores.append(float(np.mean(random == labels)))
        grouped_scores.append(float(np.mean(grouped == labels)))
    return BagOfWords(float(np.mean(random_scores)), float(np.mean(grouped_scores)))


def giveaways(
    examples: Sequence[GoldenExample], *, min_windows: int = 5, limit: float = 0.8
) -> dict[str, tuple[str, float, int]]:
    """Names found in at least ``min_windows`` windows of which more than ``limit`` share one class.

    Returns ``name -> (class, share, windows)`` for containers, ``app`` labels and formats (``components``).
    """
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for example in examples:
        names = {f"container:{log.labels['container']}" for log in example.logs if "container" in log.labels}
        names |= {f"app:{log.labels['app']}" for log in example.logs if "app" in log.labels}
        names |= {f"component:{name}" for name in (example.model_extra or {}).get("components", [])}
        for name in names:
            seen[name][example.label.root_cause] += 1
    found = {}
    for name, classes in seen.items():
        windows = sum(classes.values())
        cause, count = classes.most_common(1)[0]
        if windows >= min_windows and count / windows > limit:
            found[name] = (cause, count / windows, windows)
    return found


def main(argv: Sequence[str]) -> int:
    """Print the audits of golden JSONL files or directories."""
    examples: list[GoldenExample] = []
    for path in map(Path, argv or ["golden"]):
        examples.extend(load_golden_dir(path) if path.is_dir() else read_jsonl(path))
    result = bag_of_words(examples)
    print(
        f"bag of words: random folds {result.random_folds:.3f}, grouped by scenario {result.grouped_folds:.3f}, gap {result.gap:+.3f}"
    )
    found = giveaways(examples)
    print(f"names that give a class away: {len(found)}")
    for name, (cause, share, windows) in sorted(found.items()):
        print(f"  {name}: {share:.0%} of {windows} windows are {cause}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
