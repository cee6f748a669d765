#!/usr/bin/env bash
# Install the Pulumi CLI at exactly the version of the pinned `pulumi` Python package,
# into .tools/pulumi/bin (git-ignored). Prints that directory's path last.
#
#   1. a `pulumi` on PATH at that version (with its Python language host) is used as is;
#   2. otherwise the official installer is tried;
#   3. when it cannot download (no internet), the CLI and the Python language host are
#      built from Go modules through the Go module proxy:
#        - `pulumi`: github.com/pulumi/pulumi/pkg/v3/cmd/pulumi at vX.Y.Z;
#        - `pulumi-language-python`: module .../sdk/python/cmd/pulumi-language-python/v3,
#          which has no tags: the pseudo-version of the release commit (read from the
#          proxy's record of the pkg/v3 tag), or $PULUMI_LANGUAGE_PYTHON_VERSION;
#        - `pulumi-language-python-exec`, `pulumi-resource-pulumi-python` (the
#          dynamic-provider plugin) and `pulumi-analyzer-policy-python` (what runs a
#          Python policy pack, `pulumi preview --policy-pack policy`), copied from the
#          sdk/v3 module source.
#      pkg/v3's go.mod has local `replace` directives, so `go install` refuses it; the
#      build uses a throwaway module (tools/pulumi-cli: go.mod, go.sum, tools.go) that
#      requires pkg/v3 and sdk/v3 at the version; its go.sum pins every module's hash.
# A second run finds the stamp and takes a second.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

version=$(sed -n 's/^pulumi==\([0-9.]*\).*/\1/p' requirements.txt)
[ -n "$version" ] || { echo "install-pulumi: no 'pulumi==X.Y.Z' pin in requirements.txt" >&2; exit 1; }
tools=$root/.tools/pulumi
bin=$tools/bin
stamp=$tools/installed-v$version
pinned=$root/tools/pulumi-cli
log() { echo "install-pulumi: $*" >&2; }

have_python_host() {  # $1: the directory holding pulumi
    [ -x "$1/pulumi-language-python" ] && [ -x "$1/pulumi-language-python-exec" ] &&
        { [ -x "$1/pulumi-resource-pulumi-python" ] || command -v pulumi-resource-pulumi-python >/dev/null; } &&
        { [ -x "$1/pulumi-analyzer-policy-python" ] || command -v pulumi-analyzer-policy-python >/dev/null; }
}

if [ -f "$stamp" ] && [ -x "$bin/pulumi" ] && have_python_host "$bin" &&
    [ "$("$bin/pulumi" version 2>/dev/null)" = "v$version" ]; then
    log "Pulumi CLI v$version: cached in .tools/pulumi"
    echo "$bin"
    exit 0
fi

mark_installed() {  # only the current pin's stamp may exist
    rm -f "$tools"/installed-v*
    touch "$stamp"
}

if existing=$(command -v pulumi 2>/dev/null) && ! [ "$(dirname "$existing")" -ef "$bin" ] &&
    [ "$("$existing" version 2>/dev/null)" = "v$version" ] && have_python_host "$(dirname "$existing")"; then
    log "Pulumi CLI v$version: using $existing"
    mkdir -p "$bin"
    for f in pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python \
        pulumi-analyzer-policy-python; do
        src=$(dirname "$existing")/$f
        if [ -e "$src" ]; then ln -sf "$src" "$bin/$f"; fi
    done
    mark_installed
    echo "$bin"
    exit 0
fi

mkdir -p "$tools"
log "Pulumi CLI v$version: trying the official installer"
if installer=$(curl -fsSL --max-time 20 https://get.pulumi.com 2>/dev/null) &&
    sh -c "$installer" get-pulumi --version "$version" --install-root "$tools" --no-edit-path >&2 &&
    have_python_host "$bin"; then
    mark_installed
    echo "$bin"
    exit 0
fi

log "the installer cannot download here; building v$version from Go modules (a few minutes, once)"
command -v go >/dev/null || { log "Go is needed to build the Pulumi CLI: install Go 1.24+ and re-run"; exit 1; }
modcache=$(go env GOMODCACHE)
# The checksum database does not know these two (the CLI's module answers 404 through
# the proxy, the language host has no tag); their hashes are pinned in
# tools/pulumi-cli/go.sum instead, which the build verifies. Every other module is
# checked against the checksum database as usual.
export GONOSUMDB=github.com/pulumi/pulumi/pkg,github.com/pulumi/pulumi/sdk/python
build=$tools/build
rm -rf "$build"
mkdir -p "$build" "$bin"
cd "$build"

if grep -q "github.com/pulumi/pulumi/pkg/v3 v$version\$" "$pinned/go.mod" 2>/dev/null; then
    cp "$pinned/go.mod" "$pinned/go.sum" "$pinned/tools.go" .
else
    # A new pin: derive the module anew and record its hashes (trust on first use);
    # commit tools/pulumi-cli afterwards so every later build verifies against them.
    log "tools/pulumi-cli does not pin v$version: writing it anew (review and commit it)"
    go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$version" > /dev/null
    info=$modcache/cache/download/github.com/pulumi/pulumi/pkg/v3/@v/v$version.info
    host_version=${PULUMI_LANGUAGE_PYTHON_VERSION:-$(python3 "$root/scripts/pseudo_version.py" "$info")}
    log "language host: github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3@$host_version"
    {
        echo "// The Pulumi CLI and Python language host that scripts/install-pulumi.sh builds when"
        echo "// no installer can download. Generated for pulumi v$version; go.sum pins every hash."
        echo "module fabric.invalid/pulumi-cli"
        echo
        echo "go 1.24"
        echo
        echo "require ("
        echo "	github.com/pulumi/pulumi/pkg/v3 v$version"
        echo "	github.com/pulumi/pulumi/sdk/v3 v$version"
        echo "	github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 $host_version"
        echo ")"
    } > go.mod
    # pkg/v3's own non-local replace directives (its local ones only work in its repository).
    go mod edit -json "$modcache/github.com/pulumi/pulumi/pkg/v3@v$version/go.mod" |
        python3 "$root/scripts/pseudo_version.py" --replaces |
        while read -r replace; do
            if [ -n "$replace" ]; then go mod edit -replace "$replace"; fi
        done
    {
        echo "//go:build tools"
        echo
        echo "// Package tools names the two commands to build, so go mod tidy keeps their modules."
        echo "package tools"
        echo
        echo "import ("
        echo "	_ \"github.com/pulumi/pulumi/pkg/v3/cmd/pulumi\""
        echo "	_ \"github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3\""
        echo ")"
    } > tools.go
    GOFLAGS=-mod=mod go mod tidy
    mkdir -p "$pinned"
    cp go.mod go.sum tools.go "$pinned/"
fi

ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
go build -mod=readonly -o "$bin/pulumi" -ldflags "$ldflags" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
go build -mod=readonly -o "$bin/pulumi-language-python" -ldflags "$ldflags" \
    github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3

sdk=$modcache/github.com/pulumi/pulumi/sdk/v3@v$version
install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
install -m 0755 "$sdk/python/dist/pulumi-analyzer-policy-python" "$bin/pulumi-analyzer-policy-python"

built=$("$bin/pulumi" version)
[ "$built" = "v$version" ] || { log "the built CLI says $built, expected v$version"; exit 1; }
cd "$root"
rm -rf "$build"
mark_installed
log "Pulumi CLI v$version built into .tools/pulumi/bin"
echo "$bin"
