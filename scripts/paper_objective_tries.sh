#!/usr/bin/env bash
# What was tried to make the paper's stage-2 objective work (docs/importance.md): each variant
# retrains stage 2 (fresh importance nets) on one stage-1 checkpoint and reports test detection and
# P@10. Usage: scripts/paper_objective_tries.sh CKPT DATA_DIR [LIMIT] [EPOCHS2]
# (LIMIT: training rows used by stage 2, default 10000; EPOCHS2 default 5).
set -uo pipefail
cd "$(dirname "$0")/.."
CKPT=$1 DATA=$2 LIMIT=${3:-10000} E2=${4:-5}
bash scripts/importance_lab.sh >/dev/null 2>&1 # builds build/importance_lab
lab() { echo "== $1"; shift; env LAB_LIMIT="$LIMIT" "$@" 2>/dev/null | grep -E "^(round|lambda)"; }
lab "paper objective as written (lambdas 1, rho 0.8 / 0.3)" build/importance_lab "$CKPT" "$DATA" paper 0.8 0.3 "$E2"
lab "lambda_corr scaled by d = 50" build/importance_lab "$CKPT" "$DATA" paper 0.8 0.3 "$E2" 1 0 50 1
lab "lambda_corr = initial L_local / L_corr per modality" env LAB_LCORR_RATIO=1 build/importance_lab "$CKPT" "$DATA" paper 0.8 0.3 "$E2"
lab "z weighted by the current y inside L_corr" env LAB_WEIGHTED_Z=1 build/importance_lab "$CKPT" "$DATA" paper 0.8 0.3 "$E2"
lab "alternated rounds (R = 2; stage 1 retrained 2 epochs with y)" build/importance_lab "$CKPT" "$DATA" paper 0.8 0.3 "$E2" 2 2
lab "longer stage 2 (4x epochs)" build/importance_lab "$CKPT" "$DATA" paper 0.8 0.3 $((4 * E2))
lab "no glob term: stage 1 retrained here (5 epochs, LIMIT rows) with lambda_glob 0" env LAB_GLOB=0 LAB_S1_EPOCHS=5 build/importance_lab new:50 "$DATA" paper 0.8 0.3 "$E2"
lab "  control for the line above: same stage-1 training with lambda_glob 1" env LAB_GLOB=1 LAB_S1_EPOCHS=5 build/importance_lab new:50 "$DATA" paper 0.8 0.3 "$E2"
