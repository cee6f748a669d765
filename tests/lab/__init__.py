"""The lab: a real encrypted EVPN fabric of frr nodes in network namespaces on this machine."""
