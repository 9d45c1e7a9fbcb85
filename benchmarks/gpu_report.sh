#!/usr/bin/env bash
# The Triton backend measured on one GPU, in one command (at most 4 minutes on an H200):
#   1. the GPU tests (tests/test_triton_gpu.py: every network against numpy, TF32 per group),
#   2. `cnnc tune` of the example networks (records in a cache folder of this report),
#   3. benchmarks/triton_gpu.py (tuned triton vs eager PyTorch, per-kernel vs cuBLAS),
# then REPORT_DIR/gpu_report.json and REPORT_DIR/gpu_report.md. Every step has its own time
# limit; a step that runs out is reported as such and the next one starts.
#
#   benchmarks/gpu_report.sh [REPORT_DIR]          # on a CUDA GPU (default REPORT_DIR: ./gpu_report)
#   benchmarks/gpu_report.sh --tiny [REPORT_DIR]   # anywhere: interpreter, tiny sizes, nothing tuned
#
# PYTHON (default: .venv/bin/python if there is one, else python3) runs everything.
# torch.compile max-autotune is not part of it (minutes per layer): run
# `benchmarks/triton_gpu.py --autotune-only --time-limit S` apart; nor are MobileNetV2 and
# EfficientNet-B0: `benchmarks/triton_gpu.py --nets mobilenet_v2,efficientnet_b0`. The
# benchmark writes its JSON after every row, so a step cut short still reports what it measured.
set -uo pipefail
cd "$(dirname "$0")/.."

tiny=0
if [ "${1:-}" = "--tiny" ]; then
    tiny=1
    shift
fi
out=${1:-gpu_report}
mkdir -p "$out/cache"
out=$(cd "$out" && pwd)
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHON PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 CNNC_CACHE_DIR="$out/cache"
start=$(date +%s)

step() {   # step NAME SECONDS COMMAND...: run with a time limit, log to $out/NAME.log, note the status
    local name=$1 limit=$2
    shift 2
    local t0
    t0=$(date +%s)
    echo "== $name (limit ${limit} s)"
    timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    tail -n 25 "$out/$name.log"
    echo "$name $rc $(( $(date +%s) - t0 ))" >>"$out/steps.txt"
    echo "== $name: exit $rc in $(( $(date +%s) - t0 )) s"
}

: >"$out/steps.txt"
step tests 60 "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_triton_gpu.py --junitxml="$out/tests.xml"
if [ $tiny = 1 ]; then
    step tune 60 "$PYTHON" -m cnnc tune examples/lenet.cnn --list --batch 1
    step benchmark 300 "$PYTHON" benchmarks/triton_gpu.py --tiny --nets lenet --batches 1 \
        --json "$out/triton_gpu.json" --markdown "$out/triton_gpu.md"
else
    # the budget: 60 + 70 + 100 s, under 4 minutes with the start-up; each limit is a guess until a run says
    step tune 70 bash -c 'for a in "lenet 1,256,4096" "cifar_resnet 1,256,4096" "keras/resnet50 1,64,256"; do
        set -- $a
        "$PYTHON" -m cnnc tune "examples/$1.cnn" --batch "$2" --precision tf32 --limit 5 --time-limit 6 || exit 1
    done'
    step benchmark 100 "$PYTHON" benchmarks/triton_gpu.py --no-compile --reps 30 --tune-limit 5 --tune-time 6 \
        --nets lenet,vgg_cifar,cifar_resnet,resnet50 --json "$out/triton_gpu.json" --markdown "$out/triton_gpu.md"
fi

"$PYTHON" - "$out" "$(( $(date +%s) - start ))" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET

out, seconds = sys.argv[1], int(sys.argv[2])
steps = {}
for line in open(os.path.join(out, "steps.txt")):
    name, rc, s = line.split()
    steps[name] = {"exit": int(rc), "seconds": int(s), "timed_out": rc in ("124", "137")}
tests = {}
try:
    suite = ET.parse(os.path.join(out, "tests.xml")).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    tests = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    tests["failed"] = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None
                       or c.find("error") is not None]
except (OSError, ET.ParseError, IndexError):
    pass
bench = {}
try:
    bench = json.load(open(os.path.join(out, "triton_gpu.json")))
except (OSError, ValueError):
    pass
report = {"seconds": seconds, "steps": steps, "tests": tests, "benchmark": bench}
json.dump(report, open(os.path.join(out, "gpu_report.json"), "w"), indent=2)
md = [f"# cnnc triton GPU report ({seconds} s)", "", "| step | exit | seconds |", "|---|---|---|"]
md += [f"| {n} | {s['exit']}{' (time limit)' if s['timed_out'] else ''} | {s['seconds']} |" for n, s in steps.items()]
if tests:
    md += ["", f"GPU tests: {tests['tests']} run, {tests['failures'] + tests['errors']} failed, "
               f"{tests['skipped']} skipped" + (f" ({', '.join(tests['failed'])})" if tests["failed"] else "")]
try:
    md += ["", open(os.path.join(out, "triton_gpu.md")).read()]
except OSError:
    md += ["", "(no benchmark table)"]
open(os.path.join(out, "gpu_report.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
print(f"wrote {os.path.join(out, 'gpu_report.json')} and {os.path.join(out, 'gpu_report.md')}")
EOF
