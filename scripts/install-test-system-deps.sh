#!/usr/bin/env bash
# System programs the real-component tests drive: OBS Studio 29 + Xvfb (OBS script test, screen
# source), Chromium (calibration page test). Debian/Ubuntu only; elsewhere those tests skip.
set -u
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "install-test-system-deps: not root on Debian/Ubuntu; OBS and browser tests will skip" >&2
    exit 0
fi
need=()
command -v obs >/dev/null 2>&1 || need+=(obs-studio)
command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb xauth)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ip >/dev/null 2>&1 || need+=(iproute2)  # network namespaces for the two-PC test
[ ${#need[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || echo "install-test-system-deps: apt-get failed; OBS and browser tests will skip" >&2
exit 0
