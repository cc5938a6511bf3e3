#!/bin/sh
# Downloads the pretrained TFLite models and the ImageNet labels that entropycam converts (`make weights` runs
# this when $(SHARED)/models is absent) into DIR (default build/models), from the public repository
# google-coral/test_data at a fixed commit (Apache License 2.0), and checks each file's sha256.
# Files already present with the right checksum are kept. Needs curl or wget, and sha256sum.
# ENTROPYCAM_MODELS_URL overrides the download location (e.g. a mirror, or file:///path for offline use).
set -u

dir=${1:-build/models}
base=${ENTROPYCAM_MODELS_URL:-https://github.com/google-coral/test_data/raw/104342d2d3480b3e66203073dac24f4e2dbb4c41}

# file sha256 (from ../shared/models/README.md)
files="mobilenet_v2_1.0_224_quant.tflite 7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776
tf2_mobilenet_v2_1.0_224_ptq.tflite 5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c
mobilenet_v1_0.75_192_quant.tflite 41daeb22fdcf947e0e5ec32373aa9df7c31f3ef45dbd0ef7b5940fbce3c20f6a
imagenet_labels.txt b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1"

fail() {
    echo "entropycam: cannot download the models into $dir: $1 (or point SHARED=DIR at a folder holding models/)" >&2
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
