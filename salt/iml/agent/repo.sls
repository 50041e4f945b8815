{#- The IML manager's Manager-for-Lustre.repo on a Lustre server (runbook: "Install the IML
    Agent"), after EPEL and the COPR repositories. It is fetched with the node's IML client
    certificate from /var/lib/chroma: during the upgrade run of this node (pillar
    lustre_upgrade_run:backup set, and lustre_upgrade_run:evacuated_node this minion's id,
    which lustre.restore requires) that directory is first restored from the node's backup
    by lustre.restore.

    With lustre_upgrade:server:lustre_repos `pillar` (the default) this node defines the
    Lustre repositories itself (lustre.repos), so the manager's file must not define them
    too (yum would see each twice and the two states would keep rewriting one another): the
    run stops with what to change instead. With `manager`, they come from this file. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set manager = salt['pillar.get']('lustre_upgrade:manager:fqdn') %}
{%- if not manager or manager is not string %}
  {{- raise('pillar lustre_upgrade:manager:fqdn is missing: give the host name the servers '
            ~ 'reach the IML manager by (https://<fqdn>/repo/Manager-for-Lustre.repo). '
            ~ 'Nothing was applied') }}
{%- endif %}
{%- set restoring = salt['pillar.get']('lustre_upgrade_run:backup') %}

include:
  - lustre.repos
{%- if restoring %}
  - lustre.restore
{%- endif %}

iml-agent-manager-repo-installed:
  iml.agent_repo:
    - name: {{ lustre.config.agent_repo_file | json }}
    - manager: {{ manager | json }}
    - require:
      - sls: lustre.repos
{%- if restoring %}
      - node_backup: lustre-restore-node-configuration
{%- endif %}
{%- if lustre.config.lustre_repos == 'pillar' %}

iml-agent-manager-repo-without-lustre-repos:
  test.fail_without_changes:
    - name: {{ (lustre.config.agent_repo_file ~ ' defines no Lustre repository') | json }}
    - comment: {{ (lustre.config.agent_repo_file ~ ' from the manager also defines lustre-server, '
                   ~ 'lustre-client or e2fsprogs-wc, which lustre.repos writes from pillar '
                   ~ 'lustre_upgrade:repos: set pillar lustre_upgrade:server:lustre_repos to '
                   ~ 'manager to use the manager\'s mirror, or have the manager serve iml-agent '
                   ~ 'only (iml.write_manager_repo_file repos=iml-agent)') | json }}
    {#- file.search, not grep: the path (a pillar value) is one argument, never shell text. #}
    - onlyif:
      - fun: file.search
        path: {{ lustre.config.agent_repo_file | json }}
        pattern: {{ '^\\[(lustre-server|lustre-client|e2fsprogs-wc)\\]' | json }}
        ignore_if_missing: True
    - require:
      - iml: iml-agent-manager-repo-installed
{%- endif %}
