"""The fault tier (pytest marker ``fault``: ``-m "not fault"`` deselects it locally; CI never
does)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "fault: breaks a real part (a process, a container) and checks the chain survives it",
    )
