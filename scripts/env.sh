# Source this to run `pulumi` on this project offline:  source scripts/env.sh
# The CLI that ./scripts/setup.sh installed, a local file backend (kept across shells),
# the example stacks' passphrase, and no update checks or plugin downloads.
# Values you set before sourcing are kept.
_fabric_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export PATH="$_fabric_root/.tools/pulumi/bin:$PATH"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$HOME/.fabric-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-fabric-example}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac
unset _fabric_root
