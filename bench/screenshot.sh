#!/bin/sh
# Capture + encode of one 1920x1080 frame: sbx (Xvfb's -fbdir file, mapped,
# fingerprinted, JPEG by libjpeg-turbo) against ImageMagick's
# `import -window root` to PNG (what the Nix original runs every 2 s per
# sandbox) and to JPEG, on the same screen in the same run.
# Usage: bench/screenshot.sh [iterations]   (prints a Markdown table)
set -eu
cd "$(dirname "$0")/.."
iterations=${1:-50}
work=$(mktemp -d /tmp/sbx-bench-shot.XXXXXX)
display=""
for n in $(shuf -i 400-899 -n 30); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=$n; break; }
done
Xvfb ":$display" -screen 0 1920x1080x24 -fbdir "$work" -nolisten tcp > /dev/null 2>&1 &
xvfb=$!
browser=""
cleanup() {
    [ -n "$browser" ] && kill "$browser" 2> /dev/null
    kill "$xvfb" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
sleep 1
# Something real on screen: a page with text and colour.
DISPLAY=":$display" HOME="$work" chromium --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" --window-position=0,0 --window-size=1920,1080 \
    --app="data:text/html,<body style='font:20px sans-serif;background:linear-gradient(90deg,%23fdd,%23ddf)'>$(printf 'sbx benchmark page %.0s' $(seq 1 400))</body>" \
    > /dev/null 2>&1 &
browser=$!
sleep 5

set -- $(./sbx lua bench/capture.lua "$work" "$iterations")
sbx_changed=$2 sbx_unchanged=$4 sbx_thumb=$6 sbx_bytes=$8

# hyperfine: ImageMagick is a process per capture, as the original runs it.
hyperfine --warmup 2 --runs "$iterations" --export-json "$work/import.json" -N \
    "env DISPLAY=:$display import -window root $work/shot.png" \
    "env DISPLAY=:$display import -window root -quality 75 $work/shot.jpg" > /dev/null 2>&1
means=$(python3 -c "import json,sys; d=json.load(open('$work/import.json')); print(' '.join('%.3f' % (r['mean']*1000) for r in d['results']))")
set -- $means
png=$1 jpg=$2
png_bytes=$(stat -c %s "$work/shot.png")
jpg_bytes=$(stat -c %s "$work/shot.jpg")

ratio() { python3 -c "print('%.0f' % ($1 / $2))"; }
echo "| capture of one 1920x1080 frame | ms per frame | output bytes | vs sbx (changed frame) |"
echo "|---|---:|---:|---:|"
echo "| sbx: fingerprint + JPEG (changed frame) | $sbx_changed | $sbx_bytes | 1 |"
echo "| sbx: fingerprint only (unchanged frame, not re-encoded) | $sbx_unchanged | — | — |"
echo "| sbx: 480-wide thumbnail JPEG | $sbx_thumb | — | — |"
echo "| ImageMagick \`import -window root\` to PNG | $png | $png_bytes | $(ratio "$png" "$sbx_changed")x slower |"
echo "| ImageMagick \`import -window root\` to JPEG | $jpg | $jpg_bytes | $(ratio "$jpg" "$sbx_changed")x slower |"
