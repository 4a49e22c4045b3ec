"""``python -m tests.gateway_app api ...``: the real ``schedq`` CLI with the test-only probe kinds
installed, so a gateway under test knows the kinds the test workers run (as tests.worker_app)."""

from __future__ import annotations

from tests import probe_kinds

probe_kinds.install()

from schedq.cli.main import main  # noqa: E402  (after the probe kinds are installed)

if __name__ == "__main__":
    main()
