# Nubo: `make run` (set up and start a demo) and `make test` (everything).
# Both install what a fresh Debian machine lacks.

SHELL := /bin/bash
# Builds are reused across clones (CI starts from a fresh one each time).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/nubo/target
NUBO := $(CARGO_TARGET_DIR)/debug/nubo
NUBO_APP := $(CARGO_TARGET_DIR)/debug/nubo-app
TOOLS := $(HOME)/.cache/nubo/tools
TAURI_DRIVER := $(TOOLS)/bin/tauri-driver

# Debian packages the build and the tests need: the keyring (engine), WebKitGTK
# and the tray library (desktop app), chromium (UI tests).
APT_PACKAGES := pkg-config libdbus-1-dev gnome-keyring dbus libsecret-tools openssl \
	libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev \
	chromium xvfb xauth webkit2gtk-driver
# Only for the tests (`make run` does not install servers): PostgreSQL (the
# service's tests on it, started on 127.0.0.1 by scripts/with-postgres.sh)
# and nginx (a load balancer in front of two instances).
TEST_APT_PACKAGES := postgresql nginx

.PHONY: apt-install loadtest run test test-deps test-install deps ui build app package lint fmt icons screenshots demo-clean soak fuzz bench

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"
	@command -v cargo >/dev/null || { echo "Rust is missing: install it with rustup (https://rustup.rs), then run make again"; exit 1; }
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' 2>/dev/null \
	  || { echo "Node.js 20.19 or newer is needed for the front end (found: $$(node --version 2>/dev/null || echo none))"; exit 1; }

test-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

# Installs whichever of PACKAGES is missing.
apt-install:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The front end, built into ui/dist (which the desktop app embeds). Versions
# come from package-lock.json; `npm install` rather than `npm ci`, because the
# lock lists the Tauri CLI's binaries for other platforms without entries, and
# `npm ci` refuses such a lock.
ui: deps
	cd ui && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm install --no-audit --no-fund; } && npm run build

build: deps
	cargo build --locked -p nubo-cli

app: ui
	cargo build --locked -p nubo-app

# A service with the demo account and sample agreements, and two client homes
# (two "PCs") syncing demo/pc-a and demo/pc-b; with a display, the desktop app
# opens too, at its first-run wizard, against the same service.
run: build
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(MAKE) --no-print-directory app; fi
	NUBO=$(NUBO) NUBO_APP=$(NUBO_APP) scripts/demo.sh

# Refreshes the README's screenshots: the UI tests' artifacts, and the real
# app's tray menu in an XEmbed tray under Xvfb.
screenshots: deps
	@for p in trayer xdotool imagemagick; do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	  || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq $$p >/dev/null; }; done
	cd ui && npm test
	mkdir -p docs/screenshots
	for f in 1-welcome 1-welcome-zh-CN 3-agreement 3-agreement-zh-CN 4-folder 6-status 6-status-syncing agreement-shared-1 restore-1-deleted restore-3-versions; do \
	  cp artifacts/ui/$$f.png docs/screenshots/; done
	$(MAKE) --no-print-directory app
	scripts/tray-screenshot.sh $(NUBO_APP) docs/screenshots/tray-menu.png

lint: ui
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cd ui && npm run lint

$(TAURI_DRIVER):
	cargo install tauri-driver --locked --version 2.1.0 --root $(TOOLS)

# Unit and end-to-end tests of engine, service and CLI; the service's suite
# again on PostgreSQL and an S3 server, with its tests of several instances;
# the keyring test in a session keyring; the full-disk tests in a mount
# namespace (small tmpfs mounts), with the lost-file cases (issue 15: a normal
# user's permissions through setpriv, mounts that go away); the UI in
# chromium; the real app under Xvfb.
test: test-deps lint $(TAURI_DRIVER)
	cargo test --locked --workspace
	scripts/with-postgres.sh cargo test --locked -p nubo-server --tests -- --include-ignored
	scripts/with-postgres.sh cargo test --locked -p nubo-cli --test scale --test gc -- --ignored
	scripts/with-keyring.sh cargo test --locked -p nubo-cli --test keyring -- --ignored
	scripts/with-mount-namespace.sh cargo test --locked -p nubo-cli --test disk_full -- --ignored
	scripts/with-mount-namespace.sh cargo test --locked -p nubo-cli --test lost_files -- --ignored
	cd ui && npm test
	cargo build --locked -p nubo-app -p nubo-cli -p nubo-load
	LOAD_ACCOUNTS=4 scripts/with-postgres.sh scripts/loadtest.sh $(NUBO) $(CARGO_TARGET_DIR)/debug/nubo-load - \
	  --clients 10,40 --seconds 3 --strict
	NUBO_APP=$(NUBO_APP) NUBO_BIN=$(NUBO) TAURI_DRIVER=$(TAURI_DRIVER) \
	  scripts/with-keyring.sh xvfb-run -a node --test --test-concurrency=1 tests/app/
	ui/node_modules/.bin/tauri bundle --debug --bundles deb --ci
	scripts/test-package.sh $(CARGO_TARGET_DIR)/debug/bundle/deb/Nubo_0.1.0_amd64.deb

# How many active clients one and two instances on PostgreSQL hold, from 25
# up until a step is not held (scripts/loadtest.sh): bench/load.md.
loadtest: test-deps
	cargo build --locked --release -p nubo-cli -p nubo-load
	scripts/with-postgres.sh scripts/loadtest.sh $(CARGO_TARGET_DIR)/release/nubo \
	  $(CARGO_TARGET_DIR)/release/nubo-load bench/load.md

# The simulator over many seeds (make test runs 1000): stops at the first
# seed that breaks an invariant and prints its replay.
SEEDS ?= 100000
FROM ?= 0
soak: deps
	cargo run --locked --release -p nubo-sim -- --seeds $(SEEDS) --from $(FROM)

# cargo-fuzz (from crates.io, into ~/.cache/nubo/tools) runs each target of
# fuzz/ for FUZZ_SECONDS; then Schemathesis (from PyPI, likewise) generates
# requests from the service's OpenAPI document against a real `nubo serve`,
# where a 5xx fails it. `make test` replays the fuzz corpus on stable.
FUZZ_VENV := $(TOOLS)/fuzz-venv
CARGO_FUZZ := $(TOOLS)/bin/cargo-fuzz
EXAMPLES ?= 60
FUZZ_SECONDS ?= 60
$(FUZZ_VENV)/bin/st:
	python3 -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install -q "schemathesis==4.32.5"
$(CARGO_FUZZ):
	cargo install cargo-fuzz --locked --version 0.13.2 --root $(TOOLS)
fuzz: build $(FUZZ_VENV)/bin/st $(CARGO_FUZZ)
	scripts/fuzz-targets.sh $(CARGO_FUZZ) $(FUZZ_SECONDS)
	scripts/fuzz.sh $(NUBO) $(FUZZ_VENV)/bin/st $(EXAMPLES)

# Nubo against cp -a, rsync, Unison, rclone (bisync, and to its WebDAV server)
# and Syncthing, all from Debian, on the same seeded data: bench/results.md
# and bench/results.png. Not part of
# `make test`: a full run takes tens of minutes and needs a quiet machine.
# BENCH=small,watch RUNS=1 make bench runs a part; BENCH_TOOLS picks the tools.
# BENCH=huge,large-tree,watch adds `huge` (1,000,000 files; one run, hours).
BENCH_VENV := $(TOOLS)/bench-venv
RUNS ?= 3
BENCH ?= small,mixed,large-tree,watch
BENCH_TOOLS ?= nubo,cp -a,rsync,unison,rclone bisync,rclone webdav,syncthing
BENCH_PACKAGES := rsync unison rclone syncthing time
$(BENCH_VENV)/bin/python:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q "matplotlib==3.10.7"
bench: deps $(BENCH_VENV)/bin/python
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_PACKAGES)"
	cargo build --locked --release -p nubo-cli
	$(BENCH_VENV)/bin/python scripts/bench.py --nubo $(CARGO_TARGET_DIR)/release/nubo --runs $(RUNS) --only $(BENCH) --tools "$(BENCH_TOOLS)" --out bench
	$(BENCH_VENV)/bin/python scripts/bench_report.py bench

# The .deb installed with apt on a clean, minimal Debian (debootstrap): every
# dependency from Debian's archive, every library resolving. Not part of
# `make test`: each run downloads a few hundred packages from the mirror.
test-install: app
	@dpkg-query -W -f='$${Status}' debootstrap 2>/dev/null | grep -q "install ok installed" \
	  || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq debootstrap >/dev/null; }
	ui/node_modules/.bin/tauri bundle --debug --bundles deb --ci
	scripts/test-clean-install.sh $(CARGO_TARGET_DIR)/debug/bundle/deb/Nubo_0.1.0_amd64.deb

# Release packages: a .deb, and an AppImage where its bundler can fetch the
# tools it needs (it downloads them, which this project's machines cannot).
package: ui
	ui/node_modules/.bin/tauri build --bundles deb --ci
	@ui/node_modules/.bin/tauri build --bundles appimage --ci \
	  || echo "no AppImage: its bundler could not fetch its tools here; the .deb is in $(CARGO_TARGET_DIR)/release/bundle/deb/"

fmt:
	cargo fmt --all

icons:
	python3 scripts/make-icons.py

demo-clean:
	rm -rf demo
