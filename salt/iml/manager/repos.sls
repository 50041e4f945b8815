{#- The repositories of the upgraded IML manager (EL7): EPEL, the manager release
    (lustre_upgrade:repos:iml-manager) and, when the pillar has it, manager-for-lustre. #}
{%- from "iml/manager/map.jinja" import manager with context %}

iml-manager-epel-release-installed:
  pkg.installed:
    - name: epel-release

{%- for repo_id, options in manager.repos | dictsort %}

iml-manager-repo-{{ repo_id }}-managed:
  pkgrepo.managed:
    - name: {{ repo_id }}
    - humanname: {{ repo_id | json }}
  {%- for option, value in options | dictsort %}
    - {{ option }}: {{ value | json }}
  {%- endfor %}
    - require:
      - pkg: iml-manager-epel-release-installed
{%- endfor %}
