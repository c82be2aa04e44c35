#!/usr/bin/env bash
# Install the Debian packages that ship the book's real images (about 37 MB), if missing.
set -euo pipefail
packages=(mricron-data invesalius-examples insighttoolkit5-examples)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "data packages: all installed"; exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "data packages missing (${missing[*]}) and apt-get is not available: install them by hand" >&2
  exit 1
fi
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing data packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
