{#- The IML agent packages (runbook: "Install the IML Agent": yum install chroma-*).

    chroma-agent holds the ocf:chroma:Target resource agent of every target: it is
    installed only in the upgrade run of this node (pillar lustre_upgrade_run:evacuated_node:
    <this minion's id>, passed by the orchestration once the node serves no target).
    Otherwise (a routine state.highstate) iml-agent-packages-upgrade-pending lists what an
    upgrade would install and changes nothing; the manager's repository file applies
    either way. #}
{%- from "lustre/map.jinja" import lustre with context %}

include:
  - iml.agent.repo
{%- if not lustre.upgrading %}

{#- Outside the upgrade run of this node: what it would change, nothing changed. #}
iml-agent-packages-upgrade-pending:
  lustre_server.upgrade_pending:
    - name: {{ ('IML agent packages of ' ~ lustre.minion) | json }}
    - pkgs: {{ lustre.config.agent_packages | json }}
    - require:
      - iml: iml-agent-manager-repo-installed
{%- if lustre.config.lustre_repos == 'pillar' %}
      - test: iml-agent-manager-repo-without-lustre-repos
{%- endif %}
{%- else %}

iml-agent-packages-installed:
  pkg.installed:
    - pkgs: {{ lustre.config.agent_packages | json }}
    - require:
      - iml: iml-agent-manager-repo-installed
{%- if lustre.config.lustre_repos == 'pillar' %}
      - test: iml-agent-manager-repo-without-lustre-repos
{%- endif %}
{%- endif %}
