#!/usr/bin/env bash
# Installs the Debian packages fiberlb needs, but only the ones that are missing, so that
# `make run` / `make test` work on a fresh Debian 12 machine and cost nothing afterwards.
# Usage: scripts/install-deps.sh [build|test|bench]...
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libuv1-dev node-llhttp libssl-dev libxxhash-dev
            libtomlplusplus-dev nlohmann-json3-dev libcli11-dev)
test_pkgs=(googletest libgtest-dev libgmock-dev libbenchmark-dev curl wrk python3 prometheus
           testssl.sh)
bench_pkgs=(haproxy nginx-light libnginx-mod-stream wrk libbenchmark-dev gnuplot-nox python3 openssl procps)

want=()
for set in "${@:-build}"; do
  case "$set" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "install-deps: unknown package set '$set'" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing missing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq || true
# Debian's haproxy/nginx packages try to start a system service; we never want that.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
  trap '"${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
