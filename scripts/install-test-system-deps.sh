#!/usr/bin/env bash
# System programs the real-component tests drive: OBS Studio 29 + Xvfb (OBS script test, screen
# source), Chromium (calibration page test), iproute2 (network namespaces, two-PC test), PulseAudio +
# ALSA's pulse plugin + PortAudio + espeak-ng + sox (microphone tests: a null sink's monitor as the
# microphone, speech from espeak-ng). Debian/Ubuntu only. Each package is installed on its own,
# so one that fails is named. Locally a failure is a warning (those tests then skip with the reason);
# under CI=true it is an error: exit 1, because those tests would fail anyway.
set -u
in_ci() { case "${CI:-}" in 1 | true | TRUE | True | yes) return 0 ;; esac; return 1; }
give_up() {
    echo "install-test-system-deps: $*" >&2
    if in_ci; then exit 1; fi
    echo "install-test-system-deps: OBS, Xvfb, browser, network-namespace and microphone tests will skip" >&2
    exit 0
}
# package -> the command (or, for a library, the file pattern) that proves it is installed
declare -A provides=([obs-studio]=obs [xvfb]=Xvfb [xauth]=xauth [chromium]=chromium [iproute2]=ip
    [pulseaudio]=pulseaudio [pulseaudio-utils]=pactl [libasound2-plugins]="/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so"
    [libportaudio2]="/usr/lib/*/libportaudio.so.2" [espeak-ng]=espeak-ng [sox]=sox)
packages=(obs-studio xvfb xauth chromium iproute2 pulseaudio pulseaudio-utils libasound2-plugins libportaudio2 espeak-ng sox)
present() {
    case "$1" in
    /*) compgen -G "$1" >/dev/null ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}
need=()
for package in "${packages[@]}"; do
    present "${provides[$package]}" || need+=("$package")
done
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || give_up "no apt-get (not Debian/Ubuntu); missing: ${need[*]}"
[ "$(id -u)" = 0 ] || give_up "not root; missing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || give_up "apt-get update failed; missing: ${need[*]}"
failed=()
for package in "${need[@]}"; do
    if apt-get install -y -qq --no-install-recommends "$package" >/dev/null \
        && present "${provides[$package]}"; then
        echo "install-test-system-deps: installed $package"
    else
        failed+=("$package")
    fi
done
[ ${#failed[@]} -eq 0 ] || give_up "could not install: ${failed[*]}"
exit 0
