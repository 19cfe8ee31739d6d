# cli_lib.bash: the harness the tests/cli_*.sh scripts source (`. "$(dirname "$0")/cli_lib.bash"`); not named
# cli_*.sh, so CMake does not take it for a test itself.
# Sets T, a scratch folder removed on exit; counts checks in pass and fail; ok / bad record one
# check (bad prints "FAIL: ..." to stderr); expect_fail checks a refusal; cli_finish prints
# "NAME: N passed, N failed" and returns non-zero on any failure (the script's last command).
# Each script keeps its own `set -u` (or not) and its own IMA=$1.

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_fail NAME PATTERN CMD...: non-zero exit and stderr matching PATTERN (extended regex)
expect_fail() {
    local name=$1 pat=$2
    shift 2
    if "$@" >"$T/out.txt" 2>"$T/err.txt"; then
        bad "$name: exited 0"
    elif ! grep -qE -- "$pat" "$T/err.txt"; then
        bad "$name: stderr does not match '$pat': $(cat "$T/err.txt")"
    else ok; fi
}

# cli_finish NAME: the summary line; fails when any check failed
cli_finish() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
