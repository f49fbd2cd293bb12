#!/bin/sh
# Remove from the base image what no program in the osiris image runs; the Dockerfile's `system`
# stage runs it, and the final stage copies what is left into an empty image as one layer:
#
#   sh system-slim.sh
#
# 1. Documentation (the copyright files stay), manual pages, translations, apt's package lists
#    and caches, logs.
# 2. The package manager: apt, dpkg, debconf and perl-base (the language dpkg's and debconf's
#    scripts are written in), apt's keyring and its signature checker (gpgv, or sqv from Debian
#    13 on); then the libraries only they linked (gnutls and its helpers), each only when no
#    program left links it. The image is not a base to `apt-get install` on; docs/container.md
#    says how to build one with more system packages.
# 3. glibc's gconv modules: the character sets of iconv(3) beyond the ones glibc has built in
#    (UTF-8/16/32, ASCII, Latin-1). Python's codecs do not use iconv; neither does any library
#    in the image.
# 4. Python's test extension modules (_testcapi and friends, only the test suite imports them),
#    the topics of the interactive help() (pydoc_data), and the pip wheels `python3 -m venv`
#    installs into a new environment (the image's environment has pip; `python3 -m venv
#    --without-pip` still works).
# 5. Checks that every program and library left finds the libraries it links.
set -eu

# 1
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian \
    /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
    /var/log/*.log /var/log/apt/* /tmp/*

elf() {  # the ELF files under the system directories
    find /usr /etc /opt -xdev -type f \( -perm -u+x -o -name '*.so' -o -name '*.so.*' \) \
        2>/dev/null | while IFS= read -r file; do
        if [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ]; then
            echo "$file"
        fi
    done
}
installed() {  # installed() PATTERN...: the installed packages the patterns name
    dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null | awk '$1 == "ii" {print $2}'
}
remove_listed() {  # remove_listed FILE: the files FILE lists; directories and links to them
    # (/bin, /lib64 ... on a merged-/usr system) stay
    while IFS= read -r path; do
        if [ ! -d "$path" ] && { [ -f "$path" ] || [ -L "$path" ]; }; then rm -f "$path"; fi
    done <"$1"
}

# 2. Library packages are decided first (dpkg-query goes with dpkg), by what still links them.
tools=$(installed apt dpkg debconf perl-base gpgv sqv debian-archive-keyring 'libapt-pkg*' \
    libdebconfclient0)
libraries=$(installed 'libgnutls30*' 'libhogweed*' 'libnettle*' libp11-kit0 libtasn1-6 libgmp10)
lists=$(mktemp -d)
for package in $tools $libraries; do dpkg-query -L "$package" >"$lists/$package"; done
for package in $tools; do remove_listed "$lists/$package"; done
rm -f /usr/sbin/update-passwd # base-passwd's tool, which linked libdebconfclient
# a library package goes when nothing left links any of its files; repeated, because removing
# one (gnutls) can leave the ones it linked (nettle, gmp ...) unused. The last scan, which
# removed nothing, is what step 5 checks.
programs=$(mktemp)
linked=$(mktemp)
elf >"$programs"
scan() {  # "FILE: LIBRARY" for every library each program left links ("not found" if missing)
    while IFS= read -r file; do if [ -e "$file" ]; then echo "$file"; fi; done <"$programs" \
        | xargs -r -d '\n' -n 64 -P 2 sh -c 'ldd /dev/null "$@" 2>/dev/null; true' sh \
        | awk '/^\// && /:$/ {file = substr($0, 1, length($0) - 1); next}
               $2 == "=>" {print file ": " ($3 == "not" ? "not found " $1 : $3)}'
}
while :; do
    scan >"$linked"
    removed=no
    for package in $libraries; do
        [ -f "$lists/$package" ] || continue
        used=no
        while IFS= read -r path; do
            # by name: ldd reports the path it found, through /lib or a soname link
            if [ -f "$path" ] && grep -q "/${path##*/}\$" "$linked"; then used=yes; fi
        done <"$lists/$package"
        if [ $used = no ]; then
            remove_listed "$lists/$package"
            rm "$lists/$package"
            removed=yes
            echo "system-slim.sh: $package (nothing left links it)"
        fi
    done
    [ $removed = yes ] || break
done
rm -rf "$lists" /var/lib/dpkg /var/lib/apt /var/cache/apt /var/cache/debconf \
    /var/log/apt /var/log/dpkg.log /etc/apt /etc/dpkg /etc/perl /usr/share/perl5 \
    /usr/lib/*/perl-base /usr/share/debconf /usr/share/keyrings /usr/share/dpkg

# 3
find /usr/lib -maxdepth 2 -type d -name gconv -exec rm -rf {} +

# 4
rm -f /usr/lib/python3*/lib-dynload/_test* /usr/local/lib/python3*/lib-dynload/_test* \
    /usr/lib/python3*/lib-dynload/_ctypes_test* /usr/local/lib/python3*/lib-dynload/_ctypes_test* \
    /usr/lib/python3*/lib-dynload/*xx* /usr/local/lib/python3*/lib-dynload/*xx* \
    /usr/local/lib/python3*/ensurepip/_bundled/*.whl
rm -rf /usr/lib/python3*/pydoc_data /usr/local/lib/python3*/pydoc_data /usr/share/python-wheels

# 5. (step 4 removed Python modules and data that nothing links)
missing=$(grep -F ': not found ' "$linked" || true)
rm -f "$programs" "$linked"
if [ -n "$missing" ]; then
    echo "system-slim.sh: a program or library lost a library it links:" >&2
    echo "$missing" >&2
    exit 1
fi
for program in bash python3 sh ls; do command -v "$program" >/dev/null; done
python3 -c 'import ssl, sqlite3, zoneinfo, decimal, ctypes, lzma, bz2, zlib, json, uuid'
echo "system-slim.sh: the base without its package manager and documentation"
