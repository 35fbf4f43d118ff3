"""Shared test settings."""

import os

# rich wraps long lines at the terminal width; CI has none, so give assertions whole lines.
os.environ.setdefault("COLUMNS", "200")
