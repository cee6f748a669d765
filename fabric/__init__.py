"""fabric: an encrypted multi-tenant overlay network, described once and built by Pulumi.

The pure core is :mod:`fabric.model` (validated inventory), :mod:`fabric.addressing`
(address plan formulas), :mod:`fabric.topology` (every peer and number decided) and
:mod:`fabric.render` (device configs as data). It imports neither Pulumi nor any
network library.
"""
