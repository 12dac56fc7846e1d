#!/usr/bin/env bash
# Runs a command in a mount namespace of its own, where tests may mount small
# file systems (to fill a disk on purpose) that nobody else sees and that go
# away with it. Root needs only the mount namespace; anyone else gets a user
# namespace in which they are root too.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
  exec unshare --mount --propagation private -- "$@"
else
  exec unshare --user --map-root-user --mount --propagation private -- "$@"
fi
