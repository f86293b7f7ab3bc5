#!/usr/bin/env bash
# Debian packages the project runs for real: Prometheus + promtool + Alertmanager (monitoring and rollout
# analysis), the Pushgateway (how the Kubernetes monitor CronJob reaches Prometheus), Chromium + ChromeDriver
# (dashboard browser test), wrk (HTTP benchmark), PostgreSQL (the prediction log and MLflow's backend store are
# tested on a real server the tests start themselves). Installs only what is missing, so a second
# `make install` is quick.
set -euo pipefail
packages=(prometheus prometheus-alertmanager prometheus-pushgateway chromium chromium-driver wrk git kubectl postgresql)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "system packages missing (${missing[*]}) and apt-get is not available: install them by hand" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "system packages: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start their daemons where systemd runs; ticketops starts its own on loopback.
for unit in prometheus prometheus-alertmanager prometheus-pushgateway prometheus-node-exporter postgresql; do
  $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
done
