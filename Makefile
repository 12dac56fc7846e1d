# Nubo: `make run` (set up and start a demo) and `make test` (everything).
# Both install what a fresh Debian machine lacks.

SHELL := /bin/bash
# Builds are reused across clones (CI starts from a fresh one each time).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/nubo/target
NUBO := $(CARGO_TARGET_DIR)/debug/nubo

# Debian packages the build and the tests need.
APT_PACKAGES := pkg-config libdbus-1-dev gnome-keyring dbus libsecret-tools

.PHONY: run test deps build lint fmt demo-clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v cargo >/dev/null || { echo "Rust is missing: install it with rustup (https://rustup.rs), then run make again"; exit 1; }

build: deps
	cargo build --locked -p nubo-cli

# A service with the demo account and sample agreements, and two client homes
# (two "PCs") syncing demo/pc-a and demo/pc-b. The desktop app comes later;
# until then this is the headless demo.
run: build
	NUBO=$(NUBO) scripts/demo.sh

lint: deps
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings

test: lint
	cargo test --locked --workspace
	scripts/with-keyring.sh cargo test --locked -p nubo-cli --test keyring -- --ignored

fmt:
	cargo fmt --all

demo-clean:
	rm -rf demo
