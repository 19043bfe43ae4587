#!/usr/bin/env bash
# Issue 34's recipe on one GPU machine (an NVIDIA H200, 16 cores): FOLDS held-out VGG teachers trained side by
# side on random crops with SGD-Nesterov and a plateau schedule, their ten-crop readings of the folds they never
# saw, then a student of the shipped architecture distilled from them. Everything a CPU machine needs to measure
# and ship lands in ONE folder (at most 8 files, each well under 16 MiB: what a device run sends back).
#
#   benchmarks/gpu_recipe.sh PHASE [OUTDIR]        PHASE: teachers | student | all;  OUTDIR: default $OUT
#
# On the GPU, two runs of at most 10 minutes (docs/model-experiments.md, "Next, with a GPU"):
#   run 1: FER_DATA=... benchmarks/gpu_recipe.sh teachers        -> heldout.npz, teachers.tar.gz, summary-teachers.txt
#   run 2: FER_DATA=... TEACHERS=path/to/heldout.npz benchmarks/gpu_recipe.sh student
#                                                                -> student.keras/.json/.readings.npz, student.tar.gz,
#                                                                   summary-student.txt
# or both in one run (`all`) with smaller budgets. On this CPU, the whole thing at a tiny scale in a few minutes:
#   TINY=1 FER_DATA=/work/shared/fer2013 PYTHON=.venv/bin/python nice -n 19 benchmarks/gpu_recipe.sh all /tmp/out
#
# Settings (environment): FER_DATA (FER2013 on that machine; required), PYTHON (python3), WHEELS (a folder of
# wheels to install first, e.g. .whl: Keras, keras-tuner, kt-legacy, namex, optree), WORK (scratch for checkpoints
# and teacher models, /tmp/fercore-gpu-recipe), FOLDS (4), TEACHER_MINUTES (5.5), STUDENT_MINUTES (3),
# TEACHER_ARGS / STUDENT_ARGS (more `train` options, appended), TEACHERS (the readings for `student`; default
# OUTDIR/heldout.npz, then WORK/heldout.npz), KERAS_BACKEND (jax; tensorflow with TINY=1).
set -uo pipefail

PHASE=${1:-}
OUTDIR=${2:-${OUT:-}}
case "$PHASE" in teachers|student|all) ;; *) echo "usage: $0 teachers|student|all [OUTDIR]" >&2; exit 2;; esac
[ -n "$OUTDIR" ] || { echo "error: give an output folder (or set OUT)" >&2; exit 2; }
[ -n "${FER_DATA:-}" ] || { echo "error: set FER_DATA to the FER2013 folder on this machine" >&2; exit 2; }
cd "$(dirname "$0")/.."
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

PYTHON=${PYTHON:-python3}
WORK=${WORK:-/tmp/fercore-gpu-recipe}
TINY=${TINY:-0}
FOLDS=${FOLDS:-4}
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} FER_DATA
export FER_CACHE=${FER_CACHE:-$WORK/cache}  # the faces are decoded once, before the teachers start
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # several JAX processes share the GPU
if [ "$TINY" = 1 ]; then
  export KERAS_BACKEND=${KERAS_BACKEND:-tensorflow}
  FOLDS=${TINY_FOLDS:-2}
  # tiny networks, a few hundred faces, one epoch: the path end to end, not a result
  TEACHER_BASE=(--arch vgg --crop 44 --optimizer sgd-nesterov --schedule plateau --plateau-patience 3
                --batch-size 32 --epochs 1 --subset 300 --set filters=8 --set dense_units=32 --set weight_decay=5e-3)
  STUDENT_BASE=(--arch default --batch-size 32 --epochs 1 --subset 300 --distill 0.5 --set weight_decay=0.05)
else
  export KERAS_BACKEND=${KERAS_BACKEND:-jax}
  TEACHER_MINUTES=${TEACHER_MINUTES:-5.5}
  STUDENT_MINUTES=${STUDENT_MINUTES:-3}
  # SGD's weight decay in Keras shrinks weights by weight_decay * learning_rate a step: 5e-3 at 1e-2 is the
  # 5e-5 a step that AdamW's 0.05 at 1e-3 gave in the GPU sweep. Patience 3: a short run still gets its cuts.
  TEACHER_BASE=(--arch vgg --crop 44 --optimizer sgd-nesterov --schedule plateau --plateau-patience 3
                --batch-size 128 --precision mixed_bfloat16 --epochs 250 --time-limit "$TEACHER_MINUTES"
                --set weight_decay=5e-3)
  # the shipped network and recipe, distilled: only the teachers differ from the shipped model
  STUDENT_BASE=(--arch default --batch-size 128 --precision mixed_bfloat16 --epochs 150
                --time-limit "$STUDENT_MINUTES" --distill 0.5 --set weight_decay=0.05)
fi
read -r -a TEACHER_EXTRA <<< "${TEACHER_ARGS:-}"
read -r -a STUDENT_EXTRA <<< "${STUDENT_ARGS:-}"
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/teachers"
started=$(date +%s)
stamp() { echo "[$(( $(date +%s) - started ))s] $*" | tee -a "$LOGS/gpu_recipe.log"; }
fercore() { "$PYTHON" -m fercore "$@"; }

setup() {
  if [ -n "${WHEELS:-}" ]; then
    stamp "installing the wheels in $WHEELS"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$WHEELS"/*.whl || return 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv >> "$LOGS/gpu_recipe.log"
  stamp "checking FER2013 at $FER_DATA (KERAS_BACKEND=$KERAS_BACKEND, cache $FER_CACHE)"
  fercore data > "$LOGS/data.log" 2>&1 || { tail -5 "$LOGS/data.log"; return 1; }
  cat "$LOGS/data.log"
}

# A few lines per model from its JSON: PublicTest makes every choice, PrivateTest is only reported.
summarise() {
  "$PYTHON" - "$@" <<'EOF'
import json, sys
from pathlib import Path
for path in sys.argv[1:]:
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    training, ev = meta["training"], meta["evaluation"]
    line = (f"{Path(path).stem}: {meta['arch']}, {meta['parameters']:,} parameters, {training['epochs_done']} epochs "
            f"(best {training['best_epoch']}), {training['seconds_this_run']:.0f} s; PublicTest {ev['public']['accuracy']:.4f} "
            f"(macro-F1 {ev['public']['macro_f1']:.3f}, ECE {ev['public']['ece']:.3f})")
    if "evaluation_ten_crop" in meta:
        line += f", ten-crop {meta['evaluation_ten_crop']['public']['accuracy']:.4f}"
    print(line + f"; PrivateTest {ev['private']['accuracy']:.4f}")
EOF
}

teachers() {
  rm -rf "$WORK/teachers" "$WORK/checkpoints"
  mkdir -p "$WORK/teachers"
  stamp "training $FOLDS held-out teachers side by side: ${TEACHER_BASE[*]} ${TEACHER_EXTRA[*]}"
  pids=()
  for k in $(seq 1 "$FOLDS"); do
    fercore train "${TEACHER_BASE[@]}" --holdout "$k/$FOLDS" --seed "$k" --data "$FER_DATA" \
      --out "$WORK/teachers/fold$k.keras" "${TEACHER_EXTRA[@]}" > "$LOGS/fold$k.log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for k in $(seq 1 "$FOLDS"); do
    wait "${pids[$((k - 1))]}" || { failed=1; stamp "teacher $k failed:"; tail -5 "$LOGS/fold$k.log"; }
  done
  [ "$failed" = 0 ] || return 1
  stamp "teachers trained"
  models=()
  for k in $(seq 1 "$FOLDS"); do models+=("$WORK/teachers/fold$k.keras"); done
  summarise "${models[@]}" | tee "$OUTDIR/summary-teachers.txt"
  stamp "ten-crop readings of the folds each teacher never saw"
  fercore teachers "${models[@]}" --ten-crop --out "$WORK/heldout.npz" --data "$FER_DATA" \
    > "$LOGS/teachers.log" 2>&1 || { tail -5 "$LOGS/teachers.log"; return 1; }
  grep -v '^[IEW][0-9]\{4\} \|^WARNING: All log' "$LOGS/teachers.log" | tee -a "$OUTDIR/summary-teachers.txt"
  cp "$WORK/heldout.npz" "$OUTDIR/heldout.npz"
  stamp "teachers done"
}

student() {
  local readings=${TEACHERS:-}
  [ -n "$readings" ] || { [ -f "$OUTDIR/heldout.npz" ] && readings=$OUTDIR/heldout.npz || readings=$WORK/heldout.npz; }
  [ -f "$readings" ] || { echo "error: no teachers' readings at $readings: run the teachers phase, or set TEACHERS" >&2; return 1; }
  rm -rf "$WORK/student" && mkdir -p "$WORK/student"
  stamp "training the student from $readings: ${STUDENT_BASE[*]} ${STUDENT_EXTRA[*]}"
  fercore train "${STUDENT_BASE[@]}" --teachers "$readings" --seed 0 --data "$FER_DATA" \
    --out "$WORK/student/student.keras" "${STUDENT_EXTRA[@]}" > "$LOGS/student.log" 2>&1 \
    || { tail -5 "$LOGS/student.log"; return 1; }
  summarise "$WORK/student/student.keras" | tee "$OUTDIR/summary-student.txt"
  fercore card "$WORK/student/student.keras" --out "$WORK/student/student.md" >> "$LOGS/student.log" 2>&1
  cp "$WORK/student/student.keras" "$WORK/student/student.json" "$WORK/student/student.readings.npz" "$OUTDIR/"
  stamp "student done"
}

# The logs and the teachers' cards (their .keras files, 40-55 MB each, stay behind: the readings are what the
# student needs) as one archive per phase, whatever happened, so that a failed run still says why.
pack() {
  local status=$?
  case "$PHASE" in
    teachers|all) tar -czf "$OUTDIR/teachers.tar.gz" -C "$WORK" logs $(cd "$WORK" && ls teachers/*.json 2>/dev/null) ;;
  esac
  case "$PHASE" in
    student|all) tar -czf "$OUTDIR/student.tar.gz" -C "$WORK" logs $(cd "$WORK" && ls student/*.md student/*.png 2>/dev/null) ;;
  esac
  stamp "exit $status; $OUTDIR holds: $(ls "$OUTDIR" | tr '\n' ' ')"
  exit "$status"
}
trap pack EXIT

setup || exit 1
case "$PHASE" in
  teachers) teachers || exit 1 ;;
  student) student || exit 1 ;;
  all) teachers && student || exit 1 ;;
esac
