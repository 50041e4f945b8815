{#- What this extension's modules need on an EL7 server besides Salt: lxml for Salt's own
    python (EPEL's python36-lxml; lustre_upgrade:server:extension_packages), from the
    repositories of lustre.repos. The orchestration applies it to a rebuilt node before
    it syncs the modules there (saltutil.sync_all); highstate keeps it. #}
{%- from "lustre/map.jinja" import lustre with context %}

include:
{%- for sls in lustre.repo_sls %}
  - {{ sls }}
{%- endfor %}

lustre-extension-packages-installed:
  pkg.installed:
    - pkgs: {{ lustre.config.extension_packages | json }}
    - require:
{%- for sls in lustre.repo_sls %}
      - sls: {{ sls }}
{%- endfor %}
