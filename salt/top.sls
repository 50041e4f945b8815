{#- Example top file: every minion listed as a node of a pair in pillar
    (lustre_upgrade:pairs:*:nodes:*:minion) gets the EL7 Lustre server configuration. Other
    minions get nothing from this tree. #}
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
    - lustre.server
    - lustre.ha
    - iml.agent
{%- else %}
  {}
{%- endif %}
