{#- What this extension's modules need on the rebuilt manager besides Salt, as a server
    gets it from lustre.extension: the orchestration applies it before it syncs the
    modules there (saltutil.sync_all). #}
{%- from "iml/manager/map.jinja" import manager with context %}

include:
  - iml.manager.repos

iml-manager-extension-packages-installed:
  pkg.installed:
    - pkgs: {{ manager.extension_packages | json }}
    - require:
      - sls: iml.manager.repos
