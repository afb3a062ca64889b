#!/usr/bin/env bash
# The shared-state tests start a real PostgreSQL server (initdb + pg_ctl; Debian keeps them in
# /usr/lib/postgresql/<version>/bin). Install Debian's server package on a machine that lacks it; say what to
# do where that is not possible (no apt-get, or neither root nor sudo).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "error: the tests need a PostgreSQL server (initdb, pg_ctl) and this machine has none: install PostgreSQL 13 or later" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "error: the tests need a PostgreSQL server: run 'apt-get install postgresql' as root, then 'make test' again" >&2
        exit 1
    fi
    sudo="sudo"
fi
echo "installing Debian's postgresql package (the shared-state tests start a throwaway server)" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
