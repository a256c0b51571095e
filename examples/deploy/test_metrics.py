"""Metric analysis after a release: the error rate Prometheus measures stays under 1%.

Runs only on targets with a Prometheus (``local-metrics`` here); ``make demo``
starts one scraping the shop's ``/metrics``.
"""

from __future__ import annotations

import pytest

from pytest_deployable import Metrics

#: The share of answers that were 5xx over the last minute: the SLO's error rate.
ERROR_RATE = (
    'sum(rate(shop_http_requests_total{code=~"5.."}[1m]))'
    " / sum(rate(shop_http_requests_total[1m]))"
)


@pytest.mark.post_deploy
@pytest.mark.only_targets("local-metrics")
def test_error_rate_stays_under_1_percent(metrics: Metrics) -> None:
    """After the release, under 1% of the shop's answers are server errors."""
    metrics.assert_that(ERROR_RATE, "< 0.01")
