# custom — Docker volume plugin. `make run` installs and starts it; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

.PHONY: help deps build run stop test test-host test-guest bench busybox-image clean

help:
	@echo "make run    install dependencies, build, start Docker (if needed) and the plugin"
	@echo "make test   install test dependencies, build (type-checked), run all tests"
	@echo "make bench  measure volumes against the raw disk and Docker's local driver"
	@echo "make stop   stop the plugin (volumes stay mounted for running containers)"
	@echo "make busybox-image   import busybox:latest offline (machines with no image registry)"

deps:
	scripts/install-deps.sh

build:
	rm -rf dist
	npx tsc -p tsconfig.json

run: deps build
	scripts/ensure-dockerd.sh
	scripts/run-plugin.sh

stop:
	scripts/stop-plugin.sh

# Host suite, then the dm-crypt suite inside a QEMU guest (this kernel has no
# device-mapper); one summary line for both.
test: deps build
	( status=0; npx ava --tap || status=$$?; test/vm/run-guest-suite.sh || status=$$?; exit $$status ) \
	  | node dist/test/helpers/tap-summary.js

test-host: deps build
	npx ava --tap | node dist/test/helpers/tap-summary.js

test-guest: deps build
	test/vm/run-guest-suite.sh | node dist/test/helpers/tap-summary.js

bench: deps build
	node dist/bench/run.js
	@echo
	VM_MEM=4096 test/vm/run-in-vm.sh bash test/vm/guest-entry.sh bench

busybox-image: deps
	scripts/ensure-dockerd.sh
	scripts/import-busybox.sh

clean:
	rm -rf dist
