"""Fabric health: what the plan says every device should show, and whether it does.

A pipeline of pure stages, as the config's (plan -> render) is:

* :mod:`~fabric.health.expect`: the plans of a fabric's stacks -> per device the BGP
  sessions, WireGuard peers, VNIs (with their remote VTEPs and route targets), VRRP
  groups and VRFs it must have;
* :mod:`~fabric.health.facts`: the shapes of what a device says about itself;
* :mod:`~fabric.health.parse`: a device's answers (FRR's JSON, ``wg`` and ``bridge``
  output, VyOS op-mode text) -> facts;
* :mod:`~fabric.health.verify`: expectations x facts -> named checks, each passed or
  failed with its reason;
* :mod:`~fabric.health.report`: tables, JSON and JUnit XML of both.

Reading devices is not here: :mod:`fabric.devices` does it over the providers' own
connections (TLS and host keys verified as an apply verifies them).
"""
