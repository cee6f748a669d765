#!/bin/sh
# Managed by fabric (hypervisor dc1-hv1); do not edit: changes are overwritten on the next update.
# Bridge br0: uplink trunk and one trunk port per router VM tap. Idempotent;
# replayed at boot by fabric-ovs.service.
set -eu

ovs-vsctl --timeout=30 -- --may-exist add-br br0 -- set Bridge br0 datapath_type=system
ovs-vsctl --timeout=30 -- --may-exist add-port br0 bond1 -- set Port bond1 vlan_mode=trunk trunks=10,100
ovs-vsctl --timeout=30 -- --may-exist add-port br0 vt-dc1-r1 -- set Port vt-dc1-r1 vlan_mode=trunk trunks=10,100 -- set Interface vt-dc1-r1 mtu_request=9000
sh -c 'br=$1; shift; keep=" $* "; for p in $(ovs-vsctl --timeout=30 list-ports "$br"); do case "$p" in vt-*) case "$keep" in *" $p "*) ;; *) ovs-vsctl --timeout=30 -- --if-exists del-port "$br" "$p";; esac;; esac; done' prune-taps br0 vt-dc1-r1
