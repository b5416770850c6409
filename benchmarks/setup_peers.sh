#!/usr/bin/env bash
# Create benchmarks/.venv-peers and install the peer trackers into it.
#
# Each peer is installed by its own pip command, so one failure leaves the others
# usable; each step's outcome goes to .venv-peers/install.log, which run.py reads
# to report a peer that could not be installed. Once every step has succeeded a
# marker file makes later calls return at once (delete .venv-peers to start
# over); after a failed step, the next call tries again. Exits 0 unless the
# virtualenv itself cannot be created.
#
# Environment: PEERS_PYTHON, the interpreter for the venv (default python3.11).
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
    if ! "$python_bin" -m venv "$venv"; then
        echo "cannot create $venv with $python_bin (set PEERS_PYTHON)" >&2
        exit 1
    fi
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
log="$venv/install.log"
: >"$log"
all_ok=1

# step NAME PIP-ARGS...: run one install and record ok/failed; never abort the script.
step() {
    local name="$1"
    shift
    echo "installing $name ..."
    # Drop pip's notices about unreadable extra index locations: they are not errors.
    if "${pip[@]}" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); then
        echo "$name ok" >>"$log"
    else
        echo "$name failed" >>"$log"
        all_ok=0
        echo "warning: installing $name failed; its benchmark rows will say so" >&2
    fi
}

# neuraxle 0.8.1 pins matplotlib 3.3.4, which has no wheel for Python 3.11: install it
# without its pins, plus the libraries that neuraxle.metaopt imports.
step neuraxle-deps numpy scipy scikit-learn joblib pandas
step neuraxle --no-deps "neuraxle==0.8.1"
# The benchmark uses MLflow's sqlite store; its file store would also need
# MLFLOW_ALLOW_FILE_STORE=true at run time.
step mlflow mlflow
step optuna optuna
step floor pyarrow duckdb

if [[ "$all_ok" == 1 ]]; then
    touch "$marker"
fi
echo "peers venv: $venv"
cat "$log"
