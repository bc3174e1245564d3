#!/usr/bin/env bash
# Deploy the inference app and the Ascend model to a board over ssh, classify the samples there, fetch the results.
#
#   scripts/deploy_board.sh user@host [remote_dir]      (or: make deploy BOARD=user@host)
#
# Copies lenet5/, models/deploy/lenet.om and data/samples/ to remote_dir (default lenet5-app, under the login's
# home), runs `python3 -m lenet5 classify samples --model lenet.om` there after sourcing CANN's set_env.sh if the
# board has it, and copies the board's outputs/ back to outputs/board/.
# Environment: SSH_OPTS   extra options for ssh and scp, e.g. "-o Port=2222 -i ~/.ssh/board" (-o Port, not -p:
#                         scp spells the port -P)
#              CANN_SET_ENV  the board's CANN environment script (default $HOME/Ascend/ascend-toolkit/set_env.sh)
#              BOARD_PYTHON  the board's Python, 3.10 or later (default python3)
set -euo pipefail

usage="usage: scripts/deploy_board.sh user@host [remote_dir]"
board=${1:?$usage}
remote_dir=${2:-lenet5-app}
cann_set_env=${CANN_SET_ENV:-'$HOME/Ascend/ascend-toolkit/set_env.sh'}   # expanded on the board
board_python=${BOARD_PYTHON:-python3}
read -r -a ssh_opts <<< "${SSH_OPTS:-}"
model=models/deploy/lenet.om
samples=data/samples

cd "$(dirname "$0")/.."
fail() { echo "error: $*" >&2; exit 1; }
[[ $remote_dir =~ ^[A-Za-z0-9._/~-]+$ ]] || fail "remote_dir '$remote_dir': use letters, digits and . _ / ~ - only"
[[ -f $model ]] || fail "$model not found: run \`dvc exp run -S convert.target=ascend-om\` on a machine with CANN (atc)"
[[ -d $samples ]] || fail "$samples not found: run \`make repro\` (the download stage writes it)"

echo "copying the app, $model and $samples to $board:$remote_dir"
ssh "${ssh_opts[@]}" "$board" \
    "rm -rf $remote_dir/lenet5 $remote_dir/samples $remote_dir/outputs && mkdir -p $remote_dir"
scp "${ssh_opts[@]}" -q -r lenet5 "$model" "$samples" "$board:$remote_dir/"

echo "classifying on $board"
status=0
ssh "${ssh_opts[@]}" "$board" "cd $remote_dir || exit 1
if [ -f \"$cann_set_env\" ]; then . \"$cann_set_env\"; else echo \"note: no $cann_set_env on the board\" >&2; fi
$board_python -m lenet5 classify samples --model lenet.om" || status=$?

rm -rf outputs/board
mkdir -p outputs
if ! scp "${ssh_opts[@]}" -q -r "$board:$remote_dir/outputs" outputs/board; then
    echo "error: no outputs/ came back from $board" >&2
    exit $(( status ? status : 1 ))
fi
echo "results in outputs/board/"
[[ $status == 0 ]] || echo "error: classify exited $status on $board (some images failed?)" >&2
exit "$status"
