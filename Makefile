# The README's commands. Each installs what it needs first (scripts/bootstrap).
.PHONY: bootstrap lab test down

bootstrap:
	scripts/bootstrap

# The main job: the lab with everything deployed (lab up → converge → verify), then a summary.
lab: bootstrap
	.venv/bin/egov6 up lab

# The test command (CI runs exactly this through .ci/run).
test:
	scripts/test

down:
	.venv/bin/egov6 lab down lab
