{#- Package repositories of an EL7 Lustre server, base URLs from pillar lustre_upgrade:repos.
    Runbook: "Install the EPEL Repository Definition" (epel-release), "Install the IML Agent"
    (the manager-for-lustre and dnf-el7 COPR repositories) and, with
    lustre_upgrade:server:lustre_repos `pillar` (the default), the Lustre repositories of
    "Create Local Repositories" (lustre-server, lustre-client, e2fsprogs-wc) written here
    instead of served by the IML manager. Extra yum options per repository (e.g. gpgcheck
    and gpgkey) come from lustre_upgrade:server:repo_options:<id>. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set repos = lustre.repos %}
{%- set copr = ['manager-for-lustre', 'dnf-el7'] %}
{%- set lustre_ids = ['lustre-server', 'lustre-client', 'e2fsprogs-wc'] if lustre.config.lustre_repos == 'pillar' else [] %}
{%- for repo_id in ['epel'] + copr + lustre_ids %}
  {%- if not repos.get(repo_id) %}
    {{- raise('pillar lustre_upgrade:repos:' ~ repo_id ~ ' is missing: give the base URL of the '
              ~ repo_id ~ ' repository (see pillar.example). Nothing was applied') }}
  {%- endif %}
{%- endfor %}
{%- set humannames = {
    'epel': 'Extra Packages for Enterprise Linux 7 - $basearch',
    'manager-for-lustre': 'Copr repo for manager-for-lustre owned by managerforlustre',
    'dnf-el7': 'Copr repo for dnf-el7 owned by ngompa',
    'lustre-server': 'lustre-server',
    'lustre-client': 'lustre-client',
    'e2fsprogs-wc': 'e2fsprogs-wc',
} %}

lustre-repos-epel-release-installed:
  pkg.installed:
    - name: epel-release

{#- epel-release writes [epel] with a metalink; the pillar's base URL replaces it (a mirror). #}
lustre-repos-epel-managed:
  pkgrepo.managed:
    - name: epel
    - humanname: {{ humannames['epel'] | json }}
    - baseurl: {{ repos['epel'] | json }}
{%- for option, value in (lustre.config.repo_options.get('epel') or {}) | dictsort %}
    - {{ option }}: {{ value | json }}
{%- endfor %}
    - require:
      - pkg: lustre-repos-epel-release-installed

{%- for repo_id in copr + lustre_ids %}
  {%- set options = {'enabled': 1, 'gpgcheck': 0} %}
  {%- if repo_id in lustre_ids %}
    {%- do options.update({'exclude': '*debuginfo*'}) %}
  {%- endif %}
  {%- do options.update(lustre.config.repo_options.get(repo_id) or {}) %}

lustre-repos-{{ repo_id }}-managed:
  pkgrepo.managed:
    - name: {{ repo_id }}
    - humanname: {{ humannames[repo_id] | json }}
    - baseurl: {{ repos[repo_id] | json }}
  {%- for option, value in options | dictsort %}
    - {{ option }}: {{ value | json }}
  {%- endfor %}
    - require:
      - pkgrepo: lustre-repos-epel-managed
{%- endfor %}
