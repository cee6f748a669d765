#!/bin/sh
# Managed by fabric (hypervisor dc2-hv2); do not edit: changes are overwritten on the next update.
# Open vSwitch settings read only at start: a change here restarts ovs-vswitchd.
set -eu

ovs-vsctl --timeout=30 -- set Open_vSwitch . other_config:hw-offload=true
