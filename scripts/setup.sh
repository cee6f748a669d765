#!/usr/bin/env bash
# Set up everything fabric needs on a fresh machine: the Python virtualenv that
# Pulumi.yaml names (./venv) with the pinned packages and test tools, and the Pulumi
# CLI at the pinned SDK's version (scripts/install-pulumi.sh, into .tools/pulumi/bin).
# Safe to re-run: what is up to date is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "fabric needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2
    exit 1
fi

# System packages the tests run for real: an OpenSSH server (host provider), Open
# vSwitch (its userspace datapath), FRR (its own checker validates every rendered
# frr.conf), cloud-init (its schema validates every rendered user-data), nftables (`nft -c`
# checks every rendered filter), systemd-networkd and ISC's DHCP client (a tenant DHCP
# server as rendered, and a client taking its lease), dnsmasq and dig (a tenant resolver
# as rendered, and a client asking it), and for the
# lab: debootstrap (its nodes' Debian tree), systemd-nspawn (its containers), tcpdump
# (captures on its underlay), and Node.js for Mermaid's parser (the diagram test).
# Installed from Debian's packages when missing.
packages=()
[ -x /usr/sbin/sshd ] || packages+=(openssh-server openssh-client)
command -v ovs-vsctl >/dev/null || packages+=(openvswitch-switch)
command -v vtysh >/dev/null || packages+=(frr)
command -v cloud-init >/dev/null || packages+=(cloud-init)
command -v nft >/dev/null || packages+=(nftables)
command -v debootstrap >/dev/null || packages+=(debootstrap)
command -v systemd-nspawn >/dev/null || packages+=(systemd-container)
command -v tcpdump >/dev/null || packages+=(tcpdump)
[ -x /lib/systemd/systemd-networkd ] || packages+=(systemd)
command -v dhclient >/dev/null || packages+=(isc-dhcp-client)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || packages+=(dnsmasq-base)
command -v dig >/dev/null || packages+=(bind9-dnsutils)
command -v npm >/dev/null || packages+=(nodejs npm)  # Mermaid's own parser reads every diagram
if [ ${#packages[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "install these packages with your package manager: ${packages[*]}" >&2
        exit 1
    fi
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "system packages: installing ${packages[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" > /dev/null
fi

stamp=venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ -x venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "venv: up to date"
else
    echo "venv: installing pinned packages (first run takes a few minutes)"
    "$python" -m venv --clear venv
    venv/bin/python -m pip install --quiet --upgrade pip
    venv/bin/python -m pip install --quiet -r requirements-dev.txt
    echo "$want" > "$stamp"
fi
venv/bin/python -m fabric --help > /dev/null
# Mermaid (and jsdom, the DOM it needs outside a browser) for the diagram test, pinned, cached.
mermaid=.tools/mermaid
mermaid_pins="mermaid@11.17.2 jsdom@24.1.3"  # jsdom 24: Node 18 (Debian's) and newer
if [ "$(cat "$mermaid/.pins" 2>/dev/null)" = "$mermaid_pins" ] && [ -d "$mermaid/node_modules/mermaid" ]; then
    echo "mermaid: up to date"
else
    if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'; then
        echo "Mermaid needs Node.js 18 or newer (node is $(node --version)): install a newer nodejs and re-run" >&2
        exit 1
    fi
    echo "mermaid: installing $mermaid_pins"
    mkdir -p "$mermaid"
    # shellcheck disable=SC2086 # the pins are words
    npm install --prefix "$mermaid" --no-audit --no-fund --silent $mermaid_pins > /dev/null
    echo "$mermaid_pins" > "$mermaid/.pins"
fi
pulumi_bin=$(./scripts/install-pulumi.sh)
echo "fabric is set up. Pulumi CLI: $pulumi_bin/pulumi ($("$pulumi_bin/pulumi" version))"
echo "try: venv/bin/python -m fabric plan --stack dc1"
echo "or:  source scripts/env.sh && pulumi stack init dc1 && pulumi preview   (README: 'Pulumi, offline')"
