#!/usr/bin/env bash
# The system packages the test suite needs (`make test` runs this once): Debian's
# dataset-fashion-mnist, the real IDX files the Fashion-MNIST tests read, and chromium with
# chromium-driver, the headless browser of the playground's browser test. Nothing is
# installed when it is there already.
set -euo pipefail
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "make test needs the Debian packages: ${need[*]} (run as root, or install them)" >&2
        exit 1
    fi
fi
${SUDO:-} apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -q "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
