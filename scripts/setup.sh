#!/usr/bin/env bash
# Installs what this machine lacks, idempotently: Debian packages (Python kernel stack,
# chromium for the e2e tests, code-server's build needs), npm dependencies, and code-server
# 4.100.3 into a cache folder outside node_modules. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(python3-ipykernel python3-jupyter-client python3-jupyter-server python3-pil python3-matplotlib python3-numpy
              python3-nbformat python3-nbclient python3-autopep8 chromium libkrb5-dev ripgrep
              slurmctld slurmd slurm-client munge openssh-server openssh-client bubblewrap)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: cannot install ${missing[*]}: not root and no sudo. Ask an administrator to run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

# npm dependencies: npm ci when node_modules is missing or older than the lockfile
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
else
  echo "setup: node_modules up to date"
fi

# code-server (a real VS Code workbench) into the cache
node --input-type=module -e "import('./scripts/codeServer.mjs').then(m => m.ensureCodeServer({ log: console.log })).catch(e => { console.error(e.message || e); process.exit(1); })"
