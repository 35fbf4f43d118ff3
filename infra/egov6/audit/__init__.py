"""The auditor report: what a stack declares, from the repository alone (no cloud credentials)."""
