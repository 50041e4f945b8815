{#- The tools of the runbook's "Create Local Repositories" on the manager: reposync
    (distributed in the yum-utils package) and createrepo. #}
{%- from "iml/manager/map.jinja" import manager with context %}

include:
  - iml.manager.repos

iml-manager-mirror-tools-installed:
  pkg.installed:
    - pkgs: {{ manager.mirror_packages | json }}
    - require:
      - sls: iml.manager.repos
