"""The plugin's own contract test: three lines with cbf's testing kit."""
from cbf.testing import check_objective


def test_report_length_contract():
    check_objective("report_length", {"weight": 1.0})
