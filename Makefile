# custom — Docker volume plugin. `make run` installs and starts it; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

.PHONY: help deps build lint format run stop test test-fast test-host test-guest bench busybox-image plugin-rootfs plugin registry push install upgrade clean

help:
	@echo "make run    install dependencies, build, start Docker (if needed) and the plugin; custom-volume on PATH"
	@echo "make test   install test dependencies, build (type-checked), run all tests"
	@echo "make lint   prettier --check and eslint (type-aware); make format fixes what they can"
	@echo "make test-fast   test/unit and test/fast, as npm test: no root, no apt, no Docker (seconds)"
	@echo "make bench  measure volumes against the raw disk and Docker's local driver"
	@echo "make stop   stop the plugin (volumes stay mounted for running containers)"
	@echo "make busybox-image   import busybox:latest offline (machines with no image registry)"
	@echo "make plugin-rootfs   build plugin-rootfs/ (config.json + rootfs) for a managed plugin"
	@echo "make plugin          docker plugin create + enable it as custom:latest"
	@echo "make push / install  push to REGISTRY (default a local registry on 127.0.0.1:5000) / install from it"
	@echo "make upgrade         upgrade the installed plugin to REGISTRY/custom:PLUGIN_TAG, keeping volumes"

deps:
	scripts/install-deps.sh

# npm ci only when node_modules is missing (make deps also updates it).
node_modules:
	npm ci --no-audit --no-fund --loglevel=error

build: | node_modules
	npm run --silent build

# The formatter and the type-aware linter (no-floating-promises, …); make test runs both.
lint: deps
	npx prettier --check .
	npx eslint .

format: deps
	npx prettier --write .
	npx eslint --fix .

run: deps build
	scripts/ensure-dockerd.sh
	scripts/ensure-glusterd.sh
	scripts/run-plugin.sh
	ln -sf $(CURDIR)/dist/src/cli/main.js /usr/local/bin/custom-volume

stop:
	scripts/stop-plugin.sh

# Host suite, then the dm-crypt suite inside a QEMU guest (this kernel has no
# device-mapper); one summary line for both. Downloads run beside lint and the
# build; the two suites one after the other (scripts/test-all.sh says why).
test: deps
	scripts/test-all.sh

# The root-free tiers (pure logic, and the service over in-memory backings),
# files side by side: what npm test runs; needs Node only.
test-fast: build
	npx ava --tap | node dist/test/helpers/tap-summary.js

test-host: deps build
	AVA_SUITE=host npx ava --tap | node dist/test/helpers/tap-summary.js

test-guest: deps build
	test/vm/run-guest-suite.sh | node dist/test/helpers/tap-summary.js

bench: deps build
	node dist/bench/run.js
	@echo
	VM_MEM=4096 test/vm/run-in-vm.sh bash test/vm/guest-entry.sh bench

plugin-rootfs: deps build
	scripts/build-plugin-rootfs.sh

plugin: plugin-rootfs
	scripts/ensure-dockerd.sh
	scripts/managed-plugin.sh create

registry:
	scripts/managed-plugin.sh registry

push: plugin-rootfs registry
	scripts/ensure-dockerd.sh
	scripts/managed-plugin.sh push

install: registry
	scripts/ensure-dockerd.sh
	scripts/managed-plugin.sh install

upgrade: registry
	scripts/managed-plugin.sh upgrade

busybox-image: deps
	scripts/ensure-dockerd.sh
	scripts/import-busybox.sh

clean:
	rm -rf dist plugin-rootfs
