# The README's commands. Each installs what it needs first (scripts/bootstrap).
.PHONY: bootstrap test

bootstrap:
	scripts/bootstrap

test:
	scripts/test
