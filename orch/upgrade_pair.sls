{#- Upgrade one Lustre HA pair, online, one node at a time:
      salt-run state.orch orch.upgrade_pair pillar='{pair: oss1}'
    Each phase is one section below, in the runbook's order; a failed phase stops the run. #}
{%- set pair = pillar.get('pair') %}

# 0. Preflight [Risks, Prepare for the Upgrade]: pillar complete, both nodes reachable.
preflight:
  lustre_upgrade.preflight_passed:
    - pair: {{ pair | json }}
    - failhard: True
