{#- The IML manager release (runbook "Install the Intel Manager for Lustre Upgrade"): its
    package (lustre_upgrade:manager:package, python2-iml-manager) from the repository
    iml-manager. IML's installer runs `chroma-config setup` after the packages; the
    orchestration does (iml.chroma_config setup), then restores the database. #}
{%- from "iml/manager/map.jinja" import manager with context %}

include:
  - iml.manager.repos

iml-manager-release-installed:
  pkg.installed:
    - name: {{ manager.package | json }}
    - require:
      - sls: iml.manager.repos
