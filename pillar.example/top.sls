{#- Every key the states and orchestrations read lives under `lustre_upgrade`.
    lustre_upgrade (init.sls) goes to every minion: each server's view needs its pair's
    peer and the manager's name. The secrets go only to the minions that use them: the
    hacluster password to the nodes of the pairs listed in lustre_upgrade/init.sls (read
    here, so the list of nodes is kept in one place). Add a node to a pair there and it
    gets the secrets too. #}
{%- import_yaml 'lustre_upgrade/init.sls' as common %}
{%- set pair_nodes = [] %}
{%- for pair in (((common or {}).get('lustre_upgrade') or {}).get('pairs') or {}).values() %}
  {%- for node in ((pair or {}).get('nodes') or []) %}
    {%- if node is mapping and node.get('minion') and node.minion | string not in pair_nodes %}
      {%- do pair_nodes.append(node.minion | string) %}
    {%- endif %}
  {%- endfor %}
{%- endfor %}
base:
  '*':
    - lustre_upgrade
{%- if pair_nodes %}
  {{ pair_nodes | join(',') | json }}:
    - match: list
    - lustre_upgrade.secrets
{%- endif %}
