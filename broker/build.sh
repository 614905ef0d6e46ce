#!/usr/bin/env bash
# Builds the local broker into TOOLS/bin/tansu (`make broker-tool` calls this when the binary
# there is missing or names another build):
#
#   broker/build.sh TOOLS [--print-version]
#
# 1. Each crate named by a folder of patches/ (NAME-VERSION) is downloaded from crates.io, its
#    checksum checked against SHA256SUMS, unpacked into target/src/ and patched with the
#    folder's *.patch files in order. Cargo.toml's [patch.crates-io] points at those copies.
# 2. The broker is built with Cargo.lock (--locked) and copied into TOOLS/bin.
#
# The binary's `--version` names a digest of everything here that goes into the build; with
# --print-version this script prints the version it would build, and nothing else.
set -euo pipefail
cd "$(dirname "$0")"

tools="${1:?usage: broker/build.sh TOOLS [--print-version]}"
digest=$(cat Cargo.toml Cargo.lock build.rs src/*.rs SHA256SUMS patches/*/*.patch | sha256sum | cut -c1-12)
version="tansu 0.6.0 (shop $digest)"
if [ "${2:-}" = --print-version ]; then
  echo "$version"
  exit 0
fi

registry="${CRATES_DOWNLOAD_URL:-https://static.crates.io/crates}"
mkdir -p target/src target/downloads
for dir in patches/*/; do
  crate=$(basename "$dir")            # e.g. tansu-storage-0.6.0
  name="${crate%-*}" version_="${crate##*-}"
  file="target/downloads/$crate.crate"
  want=$(awk -v f="$crate.crate" '$2 == f { print $1 }' SHA256SUMS)
  [ -n "$want" ] || { echo "no checksum for $crate.crate in broker/SHA256SUMS" >&2; exit 1; }
  if ! echo "$want  $file" | sha256sum --check --status 2>/dev/null; then
    curl --fail --silent --show-error --location --retry 3 -o "$file.part" "$registry/$name/$name-$version_.crate"
    echo "$want  $file.part" | sha256sum --check --status || { echo "checksum mismatch for $crate.crate" >&2; exit 1; }
    mv "$file.part" "$file"
  fi
  rm -rf "target/src/$crate"
  tar -xzf "$file" -C target/src
  for p in "$dir"*.patch; do
    patch --quiet --forward -p1 -d "target/src/$crate" < "$p"
  done
done

SHOP_BROKER_DIGEST="$digest" cargo build --release --locked
mkdir -p "$tools/bin"
install -m 755 target/release/tansu "$tools/bin/tansu.new"
mv "$tools/bin/tansu.new" "$tools/bin/tansu"
"$tools/bin/tansu" --version
