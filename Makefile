# Shortcuts; the scripts in scripts/ are the source of truth (and need no make).
.PHONY: setup book test execute assign
setup:
	bash scripts/setup.sh
book:
	bash scripts/build-book.sh
test:
	bash scripts/test.sh
execute:
	bash scripts/execute.sh
assign:
	.venv/bin/dlcourse assign
