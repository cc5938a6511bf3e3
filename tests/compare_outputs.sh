#!/bin/sh
# Compares the files two entropycam binaries write on the demo images, byte for byte: `explain --raw --json`
# (all methods; default class, --top 3, --class 1: PNG overlays, grid, .npy raw maps and weights, JSON stdout)
# and `evaluate --csv` (--steps 10 on all images, --steps 50 on two). Both binaries run in the same folder
# under the same output path names, so paths printed in the JSON agree.
# usage: tests/compare_outputs.sh OLD_BINARY NEW_BINARY [WORK_DIR]   (NEW_BINARY "-": only run OLD)
# Run from the worktree root (the models are found in build/weights); needs ../shared/images/imagenet-dev.
set -eu
old=$(realpath "$1" 2>/dev/null || echo "$1"); new=$(realpath "$2" 2>/dev/null || echo "$2"); work=${3:-/tmp/ec_compare.$$}
model=${MODEL:-build/weights/mobilenet_v2_1.0_224_quant.ecw}
img=${IMAGES:-../shared/images/imagenet-dev}
images=""
for s in n01443537_goldfish n02085782_Japanese_spaniel n02085936_Maltese_dog n02086240_Shih-Tzu \
         n02099712_Labrador_retriever n07745940_strawberry n07753592_banana; do images="$images $img/$s.JPEG"; done
two="$img/n01443537_goldfish.JPEG $img/n07753592_banana.JPEG"
# REUSE_OLD=1 keeps the outputs of OLD from an earlier run in WORK_DIR (OLD may then be "-").
rm -rf "$work/run" "$work/new"
[ "${REUSE_OLD:-0}" = 1 ] || rm -rf "$work/old"

run() {  # run BINARY TAG: every case into $work/run, then moved to $work/TAG
    bin=$1; tag=$2
    for c in default top3 class1; do
        case $c in default) extra="";; top3) extra="--top 3";; class1) extra="--class 1";; esac
        mkdir -p "$work/run"
        # shellcheck disable=SC2086
        "$bin" explain --model "$model" --raw --json --out "$work/run/explain" $extra $images \
            > "$work/run/explain.json" 2> "$work/run/explain.err"
        mkdir -p "$work/$tag"; mv "$work/run" "$work/$tag/explain_$c"
    done
    mkdir -p "$work/run"
    # shellcheck disable=SC2086
    "$bin" evaluate --model "$model" --steps 10 --csv "$work/run/eval10.csv" $images > "$work/run/eval10.md" 2>/dev/null
    # shellcheck disable=SC2086
    "$bin" evaluate --model "$model" --steps 50 --csv "$work/run/eval50.csv" $two > "$work/run/eval50.md" 2>/dev/null
    mv "$work/run" "$work/$tag/evaluate"
}
[ -d "$work/old" ] || run "$old" old
[ "$new" = - ] && exit 0  # only OLD asked for
run "$new" new
# stderr of explain holds the progress lines and warnings: compared too.
if diff -r "$work/old" "$work/new"; then
    echo "identical: $(find "$work/old" -type f | wc -l) files in $work/old and $work/new"
else
    echo "DIFFERENT (see above)"; exit 1
fi
