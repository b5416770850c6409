#!/usr/bin/env bash
# Create benchmarks/.venv-peers and install the peer trackers into it.
#
# Each peer is installed by its own pip command so that one failure leaves the
# others usable; the outcome of each step is written to .venv-peers/install.log.
# The script is idempotent: once every step has been attempted, a marker file
# makes later calls return at once (delete .venv-peers to start over).
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peers"
marker="$venv/.setup-complete"
python_bin="${PEERS_PYTHON:-python3.11}"

if [[ -f "$marker" ]]; then
    echo "peers venv ready: $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "$python_bin" -m venv "$venv" || { echo "cannot create $venv with $python_bin" >&2; exit 1; }
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
log="$venv/install.log"
: >"$log"

# step NAME PIP-ARGS...: run one install, record ok/failed, never abort the script.
step() {
    local name="$1"
    shift
    echo "installing $name ..."
    if "${pip[@]}" "$@"; then
        echo "$name ok" >>"$log"
    else
        echo "$name failed" >>"$log"
        echo "warning: installing $name failed; its benchmark rows will say so" >&2
    fi
}

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
# neuraxle 0.8.1 pins matplotlib 3.3.4 (no wheel for Python 3.11): install it without
# its pins, then the libraries that neuraxle.metaopt imports.
step neuraxle-deps numpy scipy scikit-learn joblib pandas
step neuraxle --no-deps "neuraxle==0.8.1"
step mlflow mlflow
step optuna optuna
step floor pyarrow duckdb

touch "$marker"
echo "peers venv ready: $venv"
cat "$log"
