#!/bin/sh
# The runtime image's whole file system, assembled in deploy/Dockerfile's
# build stage and copied onto an empty (scratch) image: the daemon, the
# shared libraries it loads (its ldd closure, taken in the stage that
# linked it, so exactly the versions it was built against), bash for the
# HEALTHCHECK (and its libraries), the CA bundle libcurl, libgit2 and
# OpenSSL read, and passwd/group entries for root and the daemon's user.
# No package manager, no shell utilities, no docs: what is not loaded or
# read is not there (docs/internals/performance.md "Image size").
#
# Usage: deploy/image-rootfs.sh BINARY ROOT UID GID
set -eu
bin=$1
root=$2
uid=$3
gid=$4
multiarch=$(gcc -print-multiarch)

rm -rf "$root"
mkdir -p "$root/usr/bin" "$root/usr/lib/$multiarch" "$root/usr/lib64" \
	"$root/etc/ssl/certs" "$root/usr/lib/ssl" "$root/tmp" \
	"$root/var/lib/artifactd" "$root/srv/artifacts"
# Debian 12's merged /usr: /bin, /lib and /lib64 are links into /usr, so
# the paths in PT_INTERP and in ldd's answers resolve as on the host.
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

# The daemon, without its debug sections (RelWithDebInfo's -g: ~1.2 MB
# that a container never reads), and bash.
install -m 0755 "$bin" "$root/usr/bin/artifactd"
strip --strip-debug "$root/usr/bin/artifactd"
install -m 0755 "$(readlink -f /usr/bin/bash)" "$root/usr/bin/bash"

# Each library under the name the loader asks for (the soname ldd prints),
# as a plain file (the links' targets, dereferenced). The dynamic loader
# goes to /usr/lib64 (reached through /lib64), the rest to the multiarch
# directory, which glibc searches without an ld.so.cache.
for exe in "$bin" /usr/bin/bash; do
	ldd "$exe" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}'
done | sort -u | while read -r lib; do
	case $lib in
	*/ld-linux*) dest=$root/usr/lib64/$(basename "$lib") ;;
	*) dest=$root/usr/lib/$multiarch/$(basename "$lib") ;;
	esac
	cp -L "$lib" "$dest"
done

# CA bundle where libcurl and libgit2 look for it (their compiled-in
# /etc/ssl/certs/ca-certificates.crt) and OpenSSL's default locations.
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp -L /etc/ssl/openssl.cnf "$root/etc/ssl/"
ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/openssl.cnf "$root/usr/lib/ssl/openssl.cnf"

# Users: libgit2 and glibc look the running uid up (getpwuid); files only.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nartifactd:x:%s:%s:artifactd:/var/lib/artifactd:/usr/sbin/nologin\n' \
	"$uid" "$gid" >"$root/etc/passwd"
printf 'root:x:0:\nartifactd:x:%s:\n' "$gid" >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' \
	>"$root/etc/nsswitch.conf"
chown "$uid:$gid" "$root/var/lib/artifactd"
