{#- The IML agent packages (runbook: "Install the IML Agent": yum install chroma-*). #}
{%- from "lustre/map.jinja" import lustre with context %}

include:
  - iml.agent.repo

iml-agent-packages-installed:
  pkg.installed:
    - pkgs: {{ lustre.config.agent_packages | json }}
    - require:
      - iml: iml-agent-manager-repo-installed
{%- if lustre.config.lustre_repos == 'pillar' %}
      - test: iml-agent-manager-repo-without-lustre-repos
{%- endif %}
