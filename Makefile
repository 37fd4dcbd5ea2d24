# The two commands of the README. Both start from a fresh Debian machine (as root).
.PHONY: chain test bootstrap down

bootstrap:
	scripts/bootstrap

chain: bootstrap
	.venv/bin/python scripts/chain.py up

down:
	.venv/bin/python scripts/chain.py down

test: bootstrap
	.venv/bin/pytest tests -p no:cacheprovider --durations=30
