# The two commands of the README. Both start from a fresh Debian machine (as root).
.PHONY: chain test bootstrap down

bootstrap:
	scripts/bootstrap

chain: bootstrap
	.venv/bin/python scripts/chain.py up

down:
	.venv/bin/python scripts/chain.py down

# Integration beside the rest (unit, emulator, functional on pytest-xdist workers); one closing
# summary line for both. CHAIN_TEST_SERIAL=1: one pytest over tests/, as before.
test: bootstrap
	.venv/bin/python scripts/run_tests.py
