"""Entry point of the Pulumi program (``main: infra/`` in Pulumi.yaml)."""

from egov6.hetzner.program import main

main()
