{#- Package repositories of an EL7 Lustre server, from pillar lustre_upgrade:repos.
    Runbook: "Install the EPEL Repository Definition" (epel-release), "Install the IML Agent"
    (the manager-for-lustre and dnf-el7 COPR repositories) and, with
    lustre_upgrade:server:lustre_repos `pillar` (the default), the Lustre repositories of
    "Create Local Repositories" (lustre-server, lustre-client, e2fsprogs-wc) written here
    instead of served by the IML manager.

    Each lustre_upgrade:repos:<id> is its base URL, or a mapping:
      baseurl   the base URL
      gpgkey    the key that signs its packages: yum checks every package against it
      gpgcheck  false: install its packages unchecked (true: needs a gpgkey)
    Without a gpgkey a repository is unchecked (the runbook's Lustre and e2fsprogs
    packages are unsigned), except EPEL: checked by default with the key epel-release
    installs (lustre_upgrade:server:repo_gpgkeys). The OS repositories are the node's
    own and stay checked: no package state here turns checking off (--nogpgcheck).
    Extra yum options per repository come from lustre_upgrade:server:repo_options:<id>,
    applied last. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set repos = lustre.repos %}
{%- set copr = ['manager-for-lustre', 'dnf-el7'] %}
{%- set lustre_ids = ['lustre-server', 'lustre-client', 'e2fsprogs-wc'] if lustre.config.lustre_repos == 'pillar' else [] %}
{%- set default_gpgkeys = lustre.config.repo_gpgkeys or {} %}
{%- set fields = ['baseurl', 'gpgkey', 'gpgcheck'] %}
{%- set humannames = {
    'epel': 'Extra Packages for Enterprise Linux 7 - $basearch',
    'manager-for-lustre': 'Copr repo for manager-for-lustre owned by managerforlustre',
    'dnf-el7': 'Copr repo for dnf-el7 owned by ngompa',
    'lustre-server': 'lustre-server',
    'lustre-client': 'lustre-client',
    'e2fsprogs-wc': 'e2fsprogs-wc',
} %}

{#- Every repository's yum options, checked before any state is declared. #}
{%- set defined = {} %}
{%- for repo_id in ['epel'] + copr + lustre_ids %}
  {%- set key = 'lustre_upgrade:repos:' ~ repo_id %}
  {%- set entry = repos.get(repo_id) %}
  {%- if entry is mapping %}
    {%- set unknown = entry.keys() | map('string') | reject('in', fields) | sort %}
    {%- if unknown %}
      {{- raise('pillar ' ~ key ~ ' has unknown key ' ~ (unknown | join(', ')) ~ ': a repository '
                ~ 'is its base URL or a mapping of ' ~ (fields | join(', ')) ~ ' (see '
                ~ 'pillar.example). Nothing was applied') }}
    {%- endif %}
    {%- set url_key, baseurl = key ~ ':baseurl', entry.get('baseurl') %}
    {%- set gpgkey, gpgcheck = entry.get('gpgkey'), entry.get('gpgcheck') %}
  {%- else %}
    {%- set url_key, baseurl, gpgkey, gpgcheck = key, entry, none, none %}
  {%- endif %}
  {%- if not baseurl or baseurl is not string %}
    {{- raise('pillar ' ~ url_key ~ ' is missing: give the base URL of the ' ~ repo_id
              ~ ' repository (see pillar.example). Nothing was applied') }}
  {%- endif %}
  {%- if gpgkey is none %}
    {%- set gpgkey = default_gpgkeys.get(repo_id) %}
  {%- endif %}
  {%- for name, value in [(url_key, baseurl), (key ~ ':gpgkey', gpgkey)] %}
    {%- if value is not none and (value is not string or (value.split() | length) != 1) %}
      {{- raise('pillar ' ~ name ~ ' is ' ~ (value | string | json) ~ ': give one URL, '
                ~ 'without blanks. Nothing was applied') }}
    {%- endif %}
  {%- endfor %}
  {%- if gpgcheck is none %}
    {%- set gpgcheck = gpgkey is not none %}
  {%- elif gpgcheck is string or gpgcheck not in [true, false] %}
    {{- raise('pillar ' ~ key ~ ':gpgcheck is ' ~ (gpgcheck | string | json) ~ ': true or '
              ~ 'false (1 or 0). Nothing was applied') }}
  {%- elif gpgcheck and gpgkey is none %}
    {{- raise('pillar ' ~ key ~ ':gpgcheck is true but pillar ' ~ key ~ ':gpgkey is not set: '
              ~ 'give the URL of the key that signs the ' ~ repo_id ~ ' packages (or set '
              ~ 'gpgcheck false). Nothing was applied') }}
  {%- endif %}
  {%- set options = {'baseurl': baseurl, 'gpgcheck': 1 if gpgcheck else 0} %}
  {%- if gpgcheck %}
    {%- do options.update({'gpgkey': gpgkey}) %}
  {%- endif %}
  {%- if repo_id != 'epel' %}
    {%- do options.update({'enabled': 1}) %}
  {%- endif %}
  {%- if repo_id in lustre_ids %}
    {%- do options.update({'exclude': '*debuginfo*'}) %}
  {%- endif %}
  {%- do options.update(lustre.config.repo_options.get(repo_id) or {}) %}
  {%- do defined.update({repo_id: options}) %}
{%- endfor %}

lustre-repos-epel-release-installed:
  pkg.installed:
    - name: epel-release

{#- epel-release writes [epel] with a metalink; the pillar's base URL replaces it (a mirror). #}
{%- for repo_id in ['epel'] + copr + lustre_ids %}

lustre-repos-{{ repo_id }}-managed:
  pkgrepo.managed:
    - name: {{ repo_id }}
    - humanname: {{ humannames[repo_id] | json }}
  {%- for option, value in defined[repo_id] | dictsort %}
    - {{ option }}: {{ value | json }}
  {%- endfor %}
    - require:
  {%- if repo_id == 'epel' %}
      - pkg: lustre-repos-epel-release-installed
  {%- else %}
      - pkgrepo: lustre-repos-epel-managed
  {%- endif %}
{%- endfor %}
