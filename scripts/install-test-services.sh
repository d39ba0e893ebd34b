#!/usr/bin/env bash
# The services and validators some tests use, from Debian's packages, installed when missing:
#   orthanc      a real PACS for `calcdet serve`'s tests (started by the tests themselves, in a
#                network namespace whose only interface is loopback; never as a system service)
#   dicom3tools  dciodvfy, the independent validator of the DICOM calcdet writes
# Needs root (or password-less sudo); without it the tests that need them skip and say why.
set -uo pipefail
missing=()
command -v Orthanc >/dev/null || missing+=(orthanc)
command -v dciodvfy >/dev/null || missing+=(dicom3tools)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then as_root=(); elif sudo -n true 2>/dev/null; then as_root=(sudo -n); else
    echo "note: ${missing[*]} not installed and no root to install them: the tests that use them will skip" >&2
    exit 0
fi
command -v apt-get >/dev/null || { echo "note: no apt-get to install ${missing[*]}: those tests will skip" >&2; exit 0; }
echo "installing ${missing[*]} (Debian packages) for the tests" >&2
# policy-rc.d 101: the package's own Orthanc service is not started by the install
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod +x "$policy"; created_policy=1; fi
"${as_root[@]}" apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
status=$?
[ $created_policy -eq 1 ] && "${as_root[@]}" rm -f "$policy"
[ $status -eq 0 ] || echo "note: installing ${missing[*]} failed: the tests that use them will skip" >&2
exit 0
