{#- Upgrade one Lustre HA pair, online, one node at a time:
      salt-run state.orch orch.upgrade_pair pillar='{pair: oss1}'
    Each phase is one state, in the runbook's order. Each runs unless the pair's ledger
    (salt-run lustre_upgrade.status pair=oss1) has it done, so a rerun resumes where a
    stopped or killed run left off; a failed phase stops the run (failhard) in the safe
    state its comment describes. With test=True: the plan, nothing changed. #}
{%- set pair = pillar.get('pair') %}
{%- set phases = [
    ('preflight', '0 preflight: pillar, minions, old cluster healthy, disk, repositories'),
    ('backup', '1 back up both nodes to the master, verified'),
    ('evacuate-node1', '2 evacuate node 1: standby, targets on node 2, old cluster stopped'),
    ('rebuild-node1', '3 rebuild node 1: key dropped, hook, new key accepted once'),
    ('install-node1', '4 restore node 1 from its backup, install EL7 Lustre server, reboot'),
    ('new-cluster', '5 new cluster on node 1 from the backup: targets disabled'),
    ('cutover', '6 cut the targets over to node 1, then stop node 2\'s old cluster'),
    ('rebuild-node2', '7a rebuild node 2'),
    ('install-node2', '7b restore node 2, install, reboot'),
    ('join-node2', '7c node 2 joins the new cluster'),
    ('rebalance', '8 rebalance: every target on its -primary node'),
    ('fencing', '9 fencing attributes restored'),
    ('verify', '10 verify the new cluster and report'),
] %}
{%- for phase, title in phases %}

# {{ title }}
{{ phase }}:
  lustre_upgrade.phase_done:
    - pair: {{ pair | json }}
    - failhard: True
{%- endfor %}
