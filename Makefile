# The two commands of the README. Both start from a fresh Debian machine (as root).
.PHONY: chain test bootstrap down

bootstrap:
	scripts/bootstrap

# HOSTS=N: the chain and N Docker-in-Docker hosts, minions of its master (docs/hosts.md)
HOSTS ?= 0
chain: bootstrap
	.venv/bin/python scripts/chain.py up --hosts $(HOSTS)

down:
	.venv/bin/python scripts/chain.py down

# Integration beside the rest (unit, emulator, functional on a pytest-xdist worker), one closing
# summary line for both (scripts/run_tests.py); CHAIN_TEST_PARALLEL=0: one pytest over tests/.
test: bootstrap
	.venv/bin/python scripts/run_tests.py
