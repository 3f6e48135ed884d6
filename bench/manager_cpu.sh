#!/bin/sh
# Manager CPU with 10 idle sandboxes, and with one of them watched in a
# browser (live screen, log viewer, figures), against what the Nix
# original does for the same 10: `import -window root` to PNG every 2 s
# per sandbox, measured on the same displays in the same run.
# Usage: bench/manager_cpu.sh [seconds-per-phase]   (prints Markdown)
set -u
cd "$(dirname "$0")/.."
seconds=${1:-30}
. tests/lib.sh
. tests/support/manager.sh
exec 3>&1 1>&2 # progress to stderr, the table to stdout

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# CPU used by PID over SECONDS, in percent of one core.
measure() {
    before=$(cpu_ticks "$1"); sleep "$2"; after=$(cpu_ticks "$1")
    python3 -c "print('%.2f' % (($after - $before) / 100 / $2 * 100))"
}

manager_start "$scratch/state" || exit 1
mkdir -p "$scratch/projects"
for i in $(seq 1 10); do
    mkdir -p "$scratch/projects/p$i"
    api POST /api/sandboxes -H 'Content-Type: application/json' \
        -d "{\"name\":\"idle-$i\",\"backend\":\"bubblewrap\",\"project_dir\":\"$scratch/projects/p$i\",\"network\":\"host\"}" > /dev/null
done
api GET /api/sandboxes > /dev/null
running=$(json 'sum(1 for s in b if s["status"] == "running")')
displays=$(json '" ".join(str(s["display_num"]) for s in b)')
first=$(json 'b[0]["id"]')
first_display=$(json 'b[0]["display_num"]')
echo "$running sandboxes running; settling"
sleep 10

idle=$(measure "$MANAGER_PID" "$seconds")
echo "idle: $idle%"

# One sandbox watched: its page in a real browser for the whole phase,
# while its screen changes all the time (an animated page, drawn on its
# display from the host: the worst case for the screen capture).
DISPLAY=":$first_display" HOME="$scratch" chromium --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$scratch/animation" --window-position=0,0 --window-size=1920,1080 \
    --app="data:text/html,<style>@keyframes m{from{margin-left:0}to{margin-left:80%}}div{animation:m 3s infinite alternate;font:80px sans-serif}</style><div>sbx</div>" \
    > /dev/null 2>&1 &
animation=$!
sleep 3
login=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/login-links" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
node bench/watch_page.mjs "$login" "$URL/sandboxes/$first" $((seconds + 4)) > "$scratch/watch.out" 2>&1 &
watcher=$!
while ! grep -q ready "$scratch/watch.out" 2> /dev/null; do sleep 0.2; done
sleep 2
watched=$(measure "$MANAGER_PID" "$seconds")
wait $watcher
kill $animation
echo "watched: $watched%"

# The original's way: a PNG of every screen every 2 s, by a new process.
start=$(date +%s)
cat > "$scratch/import_loop.sh" <<EOF
end=\$((\$(date +%s) + $seconds))
while [ \$(date +%s) -lt \$end ]; do
    for d in $displays; do import -display ":\$d" -window root "$scratch/shot-\$d.png"; done
    sleep 2
done
EOF
import_cpu=$( { /usr/bin/time -f '%U %S' sh "$scratch/import_loop.sh" > /dev/null; } 2>&1 | tail -1 |
    awk -v s="$seconds" '{ printf "%.2f", ($1 + $2) / s * 100 }')
echo "import: $import_cpu%"

exec 1>&3
echo "| 10 sandboxes, ${seconds} s per phase | CPU, % of one core |"
echo "|---|---:|"
echo "| sbx manager, nobody watching | $idle |"
echo "| sbx manager, one sandbox watched in a browser (live screen always changing, log, figures) | $watched |"
echo "| the original's screenshots alone: \`import\` to PNG every 2 s per sandbox | $import_cpu |"
