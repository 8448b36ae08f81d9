"""The dashboard's process: /metrics first, then Streamlit in the same process.

Streamlit runs ``streamlit_app.py`` only when a browser session opens the page, so a metrics server
started from the script left Prometheus scraping nothing after every restart until someone visited.
``logtriage-dashboard [streamlit run options]`` starts the metrics server (with ``logtriage_build_info``)
before Streamlit serves anything, then hands the options to ``streamlit run streamlit_app.py``. The
Dockerfile, the Kubernetes Deployment and ``logtriage demo`` start the dashboard this way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from app.config import PROJECT_ROOT, Settings, get_settings
from app.telemetry.metrics import start_metrics

DASHBOARD_SCRIPT = PROJECT_ROOT / "streamlit_app.py"


def dashboard_command(streamlit_options: Sequence[str]) -> list[str]:
    """The ``streamlit`` arguments that run the dashboard with the given ``streamlit run`` options."""
    return ["run", str(DASHBOARD_SCRIPT), *streamlit_options]


def run_dashboard(streamlit_options: Sequence[str] = (), *, settings: Settings | None = None) -> None:
    """Serve /metrics, then run the dashboard in this process until Streamlit stops (it exits the process)."""
    start_metrics(settings or get_settings())
    # Imported here: the Streamlit CLI pulls in its server, which only this command needs.
    from streamlit.web import cli as streamlit_cli

    streamlit_cli.main(args=dashboard_command(streamlit_options), prog_name="streamlit")


def main() -> None:
    """Entry point of ``logtriage-dashboard``: every argument is a ``streamlit run`` option."""
    run_dashboard(sys.argv[1:])


if __name__ == "__main__":
    main()
