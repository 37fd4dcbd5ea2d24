# The two commands of the README. Both start from a fresh Debian machine (as root).
.PHONY: chain test bootstrap down

bootstrap:
	scripts/bootstrap

chain: bootstrap
	.venv/bin/python scripts/chain.py up

down:
	.venv/bin/python scripts/chain.py down

# One pytest over tests/; CHAIN_TEST_PARALLEL=1: integration beside the rest (unit, emulator,
# functional on a pytest-xdist worker), one closing summary line for both (scripts/run_tests.py).
test: bootstrap
	.venv/bin/python scripts/run_tests.py
