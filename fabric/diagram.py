"""A Mermaid diagram of the fabric: sites, hypervisors, routers, mesh and BGP sessions, tenants."""

from __future__ import annotations

from collections.abc import Sequence

from fabric.topology import MeshMember, Plan


def _id(name: str) -> str:
    return name.replace("-", "_")


def mermaid(plans: Sequence[Plan]) -> str:
    """One graph for one or more stacks; members known only from peers are drawn once, dashed."""
    lines = ["graph TB"]
    members: dict[str, MeshMember] = {}
    for plan in plans:
        for m in (*plan.members, *plan.remote):
            members.setdefault(m.name, m)
    by_site: dict[str, list[MeshMember]] = {}
    for m in sorted(members.values(), key=lambda m: (m.site_id, m.node_id)):
        by_site.setdefault(m.site, []).append(m)
    hypervisors = {hv.spec.name: hv for plan in plans for hv in plan.hypervisors}
    for site, site_members in by_site.items():
        lines.append(f'  subgraph {_id(site)}["{site} (172.27.{site_members[0].site_id}.0/24)"]')
        for hv in (h for h in hypervisors.values() if h.site == site):
            lines.append(f'    {_id(hv.spec.name)}[("{hv.spec.name}<br>{hv.backbone_address}")]')
        for m in site_members:
            roles = "<br>" + ", ".join(m.roles) if m.roles else ""
            lines.append(f'    {_id(m.name)}["{m.name}<br>{m.mesh_address}{roles}"]')
        lines.append("  end")
    for plan in plans:
        for hv in plan.hypervisors:
            for vm in hv.vms:
                lines.append(f"  {_id(hv.spec.name)} -. vmspawn .- {_id(vm.router)}")
    drawn: set[frozenset[str]] = set()
    for plan in plans:
        for r in plan.routers:
            for n in r.bgp_neighbors:
                pair = frozenset((r.name, n.name))
                if pair not in drawn:
                    drawn.add(pair)
                    label = "iBGP EVPN (RR client)" if n.client else "iBGP EVPN"
                    lines.append(f"  {_id(r.name)} == {label} === {_id(n.name)}")
    mesh_pairs = {frozenset((r.name, p.name)) for plan in plans for r in plan.routers for p in r.wireguard_peers}
    lines.append(f"  %% WireGuard full mesh: {len(mesh_pairs)} tunnels among {len(members)} members")
    for pair in sorted(mesh_pairs - drawn, key=sorted):
        a, b = sorted(pair)
        lines.append(f"  {_id(a)} -. wg .- {_id(b)}")
    tenants = {t.name: t for plan in plans for t in plan.tenants}
    lines.append('  subgraph tenants["tenants"]')
    for t in tenants.values():
        lines.append(f'    t_{_id(t.name)}{{{{"{t.name} (id {t.id})<br>{t.network}<br>VNI {t.vni} / L3 {t.l3_vni}"}}}}')
    lines.append("  end")
    for plan in plans:
        for r in plan.routers:
            for c in r.tenants:
                lines.append(f"  t_{_id(c.tenant.name)} --- {_id(r.name)}")
    return "\n".join(lines) + "\n"
