#!/usr/bin/env bash
# The Debian packages the tests need, checked before `npm test` (the pretest script) and by .ci/run.
# All present: exits 0 at once (a few `command -v`, no apt-get). Missing, as root with apt-get: installs them.
# Missing otherwise: stops at once naming the exact command to run.
set -euo pipefail

need=()
# OpenLDAP for the LDAP connector tests (test/support/slapd.ts).
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
# A throwaway Samba AD DC for the Active Directory tests (test/support/samba-ad.ts).
{ command -v samba >/dev/null 2>&1 || [ -x /usr/sbin/samba ]; } && command -v samba-tool >/dev/null 2>&1 \
  || need+=(samba samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind)
command -v socat >/dev/null 2>&1 || need+=(socat)
# A throwaway OpenSSH server for the SFTP file sources (test/support/sshd.ts); ssh-keygen comes with openssh-client.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
# Throwaway TLS certificates for the Graph test server (connectors/entra/testing/tls.ts).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The Samba DC runs in its own network namespace.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# The admin console's end-to-end tests drive Debian's Chromium through playwright-core (test/e2e/console.test.ts).
[ -x /usr/bin/chromium ] || need+=(chromium)
# The guides' walk-throughs (README, docs/*.md) are run by the tests as written: curl and jq.
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v jq >/dev/null 2>&1 || need+=(jq)

[ ${#need[@]} -eq 0 ] && exit 0

command="apt-get install -y --no-install-recommends ${need[*]}"
if [ "$EUID" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  {
    echo "The tests need Debian packages that are not installed: ${need[*]}"
    if command -v apt-get >/dev/null 2>&1; then
      echo "Install them, then run the tests again:"
    else
      echo "This machine has no apt-get; on Debian or Ubuntu the command is:"
    fi
    echo "  sudo apt-get update && sudo $command"
  } >&2
  exit 1
fi

echo "Installing the Debian packages the tests need: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a system slapd and sshd on install; the tests run their own on free ports.
service slapd stop >/dev/null 2>&1 || true
service ssh stop >/dev/null 2>&1 || true
