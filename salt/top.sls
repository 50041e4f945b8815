{#- Example top file: every minion listed as a node of a pair in pillar
    (lustre_upgrade:pairs:*:nodes:*:minion) gets the EL7 Lustre server configuration. Other
    minions get nothing from this tree.

    A routine `state.highstate` of a node keeps its configuration (repositories, firewall,
    hacluster account, services started, mount points, persistent hostid) and never
    reboots it, stops a cluster service or changes the software its targets depend on
    (kernel, Lustre, ZFS/SPL, e2fsprogs, the HA stack, the IML agent): the
    `*-upgrade-pending` states report what an upgrade would change, without changes, also
    with test=True. Only the orchestration, for the node it has evacuated, passes the run
    key lustre_upgrade_run:evacuated_node: <minion id> that makes those changes. #}
{%- set ns = namespace(node=False) %}
{%- for pair in (salt['pillar.get']('lustre_upgrade:pairs', {}) or {}).values() %}
  {%- for node in ((pair or {}).get('nodes') or []) %}
    {%- if node is mapping and node.get('minion') == grains['id'] %}
      {%- set ns.node = True %}
    {%- endif %}
  {%- endfor %}
{%- endfor %}

base:
{%- if ns.node %}
  {{ grains['id'] | json }}:
    - lustre.extension
    - lustre.server
    - lustre.ha
    - iml.agent
{%- else %}
  {}
{%- endif %}
