"""The section a start-up benchmark appends to bench/RESULTS.md, from
hyperfine's JSON: the machine and the date, how it was measured, a row per
command in the order run, and the ratio of sbx to the alternative."""
import argparse, json, os, platform, time

parser = argparse.ArgumentParser()
parser.add_argument("result_json")
parser.add_argument("--title", required=True)
parser.add_argument("--about", required=True, help="the versions and how it was measured")
parser.add_argument("--unit", choices=("ms", "s"), required=True)
parser.add_argument("--sbx", required=True, help="hyperfine's name of the sbx command")
parser.add_argument("--other", required=True, help="hyperfine's name of the alternative")
parser.add_argument("--label", required=True, help="the alternative's name in the ratio")
parser.add_argument("--note", default="", help="said after the ratio")
args = parser.parse_args()

results = json.load(open(args.result_json))["results"]
by_name = {r["command"]: r for r in results}
sbx, other = by_name[args.sbx], by_name[args.other]
scale = 1000 if args.unit == "ms" else 1
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\n## {args.title}\n")
print(f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {cpu}, {os.cpu_count()} cores, "
      f"Linux {platform.release()}; {args.about}")
print("\n| command | mean | median | stddev | min | max |\n|---|---|---|---|---|---|")
for r in results:
    cells = " | ".join(f"{r[key] * scale:.2f} {args.unit}" for key in ("mean", "median", "stddev", "min", "max"))
    print(f"| {r['command']} | {cells} |")
print(f"\nRatio sbx / {args.label}: **{sbx['median'] / other['median']:.2f}x** on the medians, "
      f"{sbx['mean'] / other['mean']:.2f}x on the means." + (f" {args.note}" if args.note else ""))
