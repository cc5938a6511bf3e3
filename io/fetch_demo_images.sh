#!/bin/sh
# Downloads the seven demo images of `make demo` (the seed poster's classes) into DIR (default build/images),
# when $(SHARED)/images/imagenet-dev is absent, from the public repository EliSchwartz/imagenet-sample-images at
# a fixed commit, and checks each file's sha256 (computed from the shared copy). Files already present with the
# right checksum are kept. Needs curl or wget, and sha256sum. The same pattern as weights/fetch_models.sh.
# ENTROPYCAM_IMAGES_URL overrides the download location (e.g. a mirror, or file:///path for offline use).
set -u

dir=${1:-build/images}
base=${ENTROPYCAM_IMAGES_URL:-https://github.com/EliSchwartz/imagenet-sample-images/raw/bc69043e2862758a1906c6a24a792bb28c6bb2ff}

# file sha256
files="n01443537_goldfish.JPEG 61ff9f1e0c4ed5906efed08c19d0c501b5ba75e45df77818d533a28e825341aa
n02085782_Japanese_spaniel.JPEG ef4257b14b1eaac7d7d4ef4408ca2e24ac2b6a5496f5a97740c38239425b5df9
n02085936_Maltese_dog.JPEG b931c269cc1a70fb7bfc6849a40077717deda52ee9a5e47e2b744e82f1dbfd4b
n02086240_Shih-Tzu.JPEG 7dda2fa6b7dd3883a57a4e76b67638c9af66263921978651ef7529b870d2acd4
n02099712_Labrador_retriever.JPEG 473fb9cc067a2d50a2d60866df4310abc9178b462c7e64d744f5f2a2f0e4f78b
n07745940_strawberry.JPEG a788baf1c9cc8ccbf4c404a88c47ef1e78162fa79172a53206720ec9a3b45081
n07753592_banana.JPEG 96c3e9422a5c00da9c9727f0dd13e288d4d966e5236b4a86f64f134ed1ca6cca"

fail() {
    echo "entropycam: cannot download the demo images into $dir: $1 (or point SHARED=DIR at a folder holding images/imagenet-dev/)" >&2
    exit 1
}

command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is not installed"
if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fsL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget -q -O "$2" "$1"; }
else
    fail "neither curl nor wget is installed"
fi
mkdir -p "$dir" || fail "cannot create the folder"

echo "$files" | while read -r name sum; do
    if [ -f "$dir/$name" ] && [ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" = "$sum" ]; then continue; fi
    echo "downloading $name" >&2
    rm -f "$dir/$name.part"
    fetch "$base/$name" "$dir/$name.part" || { rm -f "$dir/$name.part"; fail "download of $base/$name failed"; }
    got=$(sha256sum "$dir/$name.part" | cut -d' ' -f1)
    [ "$got" = "$sum" ] || { rm -f "$dir/$name.part"; fail "$name has sha256 $got, expected $sum"; }
    mv "$dir/$name.part" "$dir/$name" || fail "cannot write $dir/$name"
done
