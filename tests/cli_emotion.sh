#!/usr/bin/env bash
# cli_emotion.sh: `ima data emotion` and `ima repro emotion` on a tiny MELD-format corpus written here
# (speech from libespeak-ng), with a tiny GloVe file and lexicon; refusals of bad flags and of a
# malformed IEMOCAP label file. Needs no shared data.
set -u
IMA=$1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
. "$(dirname "$0")/cli_lib.bash"

# ---- a tiny MELD folder, GloVe file and lexicon ----
mkdir -p "$T/meld"
hdr='Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime'
write_csv() { # FILE REPEATS
    {
        echo "$hdr"
        local n=1
        for r in $(seq 1 "$2"); do
            echo "$n,\"Well, I think that is fine today.\",Ross,neutral,neutral,$r,0,1,1,a,b"; n=$((n + 1))
            echo "$n,\"I think it is fine, really.\",Monica,neutral,neutral,$r,1,1,1,a,b"; n=$((n + 1))
            echo "$n,\"Wow, this is great! I love it today.\",Rachel,joy,positive,$r,2,1,1,a,b"; n=$((n + 1))
            echo "$n,\"No! This is terrible, I hate it.\",Joey,anger,negative,$r,3,1,1,a,b"; n=$((n + 1))
            echo "$n,\"I miss her so much today.\",Phoebe,sadness,negative,$r,4,1,1,a,b"; n=$((n + 1))
            echo "$n,What?!,Chandler,surprise,negative,$r,5,1,1,a,b"; n=$((n + 1))
        done
    } >"$T/meld/$1"
}
write_csv train_sent_emo.csv 12
write_csv dev_sent_emo.csv 4
write_csv test_sent_emo.csv 4
awk 'BEGIN {
    n = split("well i think that is fine today wow this great love it no terrible hate miss her so much really", w, " ");
    for (i = 1; i <= n; i++) { printf "%s", w[i]; for (k = 1; k <= 100; k++) printf " %.4f", sin(0.37 * i * k); printf "\n" }
}' >"$T/glove.txt"
printf 'positive_emotion\tlove\tgreat\twow\tjoy\nnegative_emotion\thate\tterrible\tmiss\nanger\thate\nhelping\thelp\n' >"$T/lex.tsv"

# ---- ima data emotion ----
if "$IMA" data emotion --meld "$T/meld" --glove "$T/glove.txt" --out "$T/corpus" --min-count 3 2>"$T/err.txt"; then ok; else bad "data emotion: $(cat "$T/err.txt")"; fi
for f in manifest.json vocab.txt train/words.npy train/acoustic.npy train/pairs.npy train/token_utt.npy \
    valid/labels.npy test/utterances.tsv test/tokens.tsv; do
    [ -s "$T/corpus/$f" ] && ok || bad "missing $f"
done
grep -q '"utterances":	100' "$T/corpus/manifest.json" && ok || bad "manifest utterances: $(grep -m1 utterances "$T/corpus/manifest.json")"
grep -q '"vocabulary":	20' "$T/corpus/manifest.json" && ok || bad "manifest vocabulary: $(grep -m1 vocabulary "$T/corpus/manifest.json")"
[ "$(sed -n 2p "$T/corpus/train/utterances.tsv" | cut -f3)" = neutral ] && ok || bad "first label"
# the corpus does not depend on the number of threads that resample and analyse the speech (espeak
# speaks the utterances one at a time, in file order): every file equal, byte for byte
for t in 1 3; do
    if "$IMA" data emotion --meld "$T/meld" --glove "$T/glove.txt" --out "$T/corpus_t$t" --min-count 3 --threads $t \
        2>"$T/err.txt"; then ok; else bad "data emotion --threads $t: $(cat "$T/err.txt")"; fi
    diff -r "$T/corpus" "$T/corpus_t$t" >"$T/diff.txt" && ok || bad "--threads $t changed the corpus: $(head -3 "$T/diff.txt")"
done
expect_fail "bad thread count" "--threads" "$IMA" data emotion --meld "$T/meld" --threads 0
expect_fail "existing folder" "already exists" "$IMA" data emotion --meld "$T/meld" --glove "$T/glove.txt" --out "$T/corpus"
expect_fail "both sources" "exactly one of" "$IMA" data emotion --meld "$T/meld" --iemocap "$T/x"
expect_fail "bad split" "--split: expected five letters" "$IMA" data emotion --iemocap "$T/x" --glove "$T/glove.txt" --split tttv
expect_fail "unknown flag" "unknown option" "$IMA" data emotion --meld "$T/meld" --frobnicate
expect_fail "bad number" "--min-count" "$IMA" data emotion --meld "$T/meld" --min-count 0
expect_fail "no glove" "nope.txt: cannot open the GloVe file" "$IMA" data emotion --meld "$T/meld" --glove "$T/nope.txt" --out "$T/c2"
[ ! -e "$T/c2" ] && ok || bad "a failed build left $T/c2"

# ---- a malformed IEMOCAP label line: file and line named, nothing written ----
L="$T/iem/Session1/dialog/EmoEvaluation"
mkdir -p "$L"
printf '%% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n[1.0 - x]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n' >"$L/Ses01F_impro01.txt"
expect_fail "bad label line" "Ses01F_impro01.txt:3: malformed label line" \
    "$IMA" data emotion --iemocap "$T/iem" --glove "$T/glove.txt" --out "$T/c3"
printf '%% header\n\n[1.0 - 2.0]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n' >"$L/Ses01F_impro01.txt"
expect_fail "missing wdseg" "Ses01F_impro01_F000.wdseg: missing word alignment" \
    "$IMA" data emotion --iemocap "$T/iem" --glove "$T/glove.txt" --out "$T/c3"
[ ! -e "$T/c3" ] && ok || bad "a failed build left $T/c3"

# ---- ima repro emotion on the tiny corpus ----
if "$IMA" repro emotion --meld "$T/meld" --glove "$T/glove.txt" --lexicon "$T/lex.tsv" --out "$T/rep" --quick \
    --batch 32 --epochs1 1 --epochs2 1 --baseline-epochs 1 --n-rho 2 --classifier-epochs 2 --tsne-points 60 \
    --local-ev-rows 1000 --local-ev-epochs 3 >"$T/out.txt" 2>"$T/err.txt"; then ok
else bad "repro emotion: $(tail -5 "$T/err.txt")"; fi
[ -s "$T/rep/report.md" ] && ok || bad "no report.md"
grep -q "acoustic modality is synthesized" "$T/rep/report.md" && ok || bad "report does not say the audio is synthesized"
grep -q '"multimodal_weighted"' "$T/rep/results.json" && ok || bad "results.json lacks the weighted multimodal scores"
grep -q '"rho_sweep"' "$T/rep/results.json" && ok || bad "results.json lacks the rho sweep"
[ -s "$T/rep/emotion_fig3_word_importance.html" ] && ok || bad "no Figure 3 HTML"
# the time per phase: wall and CPU seconds in report.md and results.json
grep -q "^| corpus (speech synthesis, acoustic features, vocabulary, GloVe) | [0-9.]* | [0-9.]* |" "$T/rep/report.md" &&
    grep -q "^| total | " "$T/rep/report.md" && ok || bad "report.md lacks the time per phase"
if "$PY" - "$T/rep/results.json" <<'PYEOF' 2>"$T/py.txt"; then ok; else bad "timings: $(cat "$T/py.txt")"; fi
import json, sys
r = json.load(open(sys.argv[1]))
w, c = r["seconds"], r["cpu_seconds"]
keys = ("corpus", "pairs", "ima_training", "local_ev_targets", "local_ev_training", "evaluation", "figures",
        "rho_sweep", "mvae", "jmvae_kl", "total")
for k in keys:
    assert w[k] >= 0 and c[k] >= 0, (k, w[k], c[k])
assert w["corpus"] > 0 and c["corpus"] > 0, (w, c)
parts = sum(w[k] for k in keys[:-1])
assert parts <= w["total"] + 1e-6 and parts > 0.9 * w["total"] - 0.5, (parts, w["total"])
PYEOF
# local-ev stage 2 (beyond the paper) beside the paper's: its own rows, finite, from every training utterance
grep -q "IMA (ours, local-ev, beyond the paper)" "$T/rep/report.md" && ok || bad "report.md lacks the local-ev rows"
grep -q "Main IMA rows: the .* objective\*\*, chosen on the validation split" "$T/rep/report.md" && ok ||
    bad "report.md does not say how the main rows were chosen"
if "$PY" - "$T/rep/results.json" <<'PYEOF' 2>"$T/py.txt"; then ok; else bad "local-ev results: $(cat "$T/py.txt")"; fi
import json, math, sys
r = json.load(open(sys.argv[1]))
lev, sc = r["local_ev"], r["ima_local_ev"]
assert r["main_objective"] in ("paper", "local-ev"), r["main_objective"]
assert lev["subsample_utterances"] == r["corpus"]["utterances_train"], (lev["subsample_utterances"], r["corpus"])
assert lev["subsample_pairs"] == 1000 < r["corpus"]["train_pairs"], (lev["subsample_pairs"], r["corpus"])
for m in ("words", "acoustics"):
    e = lev[m]
    assert e["rows_with_target"] == lev["subsample_pairs"], e
    for k in ("median_T", "share_target_below_half", "bce_start", "bce_end", "mean_y_end"):
        assert isinstance(e[k], (int, float)) and math.isfinite(e[k]), (m, k, e[k])
    assert 0 <= e["mean_y_end"] <= 1 and e["bce_end"] > 0, e
for k in ("verbal_unweighted", "multimodal_unweighted"):  # the same stage 1: the same unweighted rows
    assert sc[k] == r["ima"][k], (k, sc[k], r["ima"][k])
for k in ("verbal_weighted", "acoustic_weighted", "multimodal_weighted"):
    assert 0 <= sc[k]["p_at_10"] <= 1 and 0 <= sc[k]["accuracy_valid"] <= 1, (k, sc[k])
for k in ("words_vocabulary", "words_tokens", "acoustics"):
    v = r["importance_valid_local_ev"][k]
    assert all(math.isfinite(v[f]) for f in ("f1_average", "f1_average_top_rho", "mean_y")), v
PYEOF
# the same from the corpus folder written above
if "$IMA" repro emotion --data "$T/corpus" --lexicon "$T/lex.tsv" --out "$T/rep2" --quick --batch 32 --epochs1 1 \
    --epochs2 1 --no-baselines --n-rho 0 --classifier-epochs 2 --tsne-points 60 --importance-objective local-ev \
    --local-ev-rows 500 --local-ev-epochs 2 >"$T/out.txt" 2>"$T/err.txt"; then ok
else bad "repro emotion --data: $(tail -5 "$T/err.txt")"; fi
grep -q "Corpus read from" "$T/rep2/report.md" && ok || bad "report does not name the corpus folder"
grep -q "Main IMA rows: the local-ev objective\*\* (--importance-objective)" "$T/rep2/report.md" && ok ||
    bad "--importance-objective local-ev: not the main rows"
grep -q '"main_objective":	"local-ev"' "$T/rep2/results.json" && ok || bad "results.json: main objective"
grep -q '"subsample_pairs":	500' "$T/rep2/results.json" && ok || bad "--local-ev-rows 500 not used"
expect_fail "repro unknown objective" "--importance-objective: expected one of" \
    "$IMA" repro emotion --meld "$T/meld" --importance-objective covariance
expect_fail "repro local-ev without rows" "local-ev needs --local-ev-rows" \
    "$IMA" repro emotion --meld "$T/meld" --importance-objective local-ev --local-ev-rows 0
expect_fail "repro --data without lexicon" "--lexicon PATH is required" "$IMA" repro emotion --data "$T/corpus"
expect_fail "repro unknown flag" "unknown option" "$IMA" repro emotion --meld "$T/meld" --nope
expect_fail "repro no source" "exactly one of" "$IMA" repro emotion

cli_finish cli_emotion
