{#- The HA framework packages and access of an EL7 Lustre server (runbook: "Configure the
    High Availability Framework", up to pcsd). The cluster itself is built by the
    orchestration from the backed-up CIB.

    The hacluster password is never part of the rendered states: user.present reads it from
    pillar lustre_upgrade:secrets:hacluster_password through a slot when it runs (config.get:
    Salt 3008's pillar.get returns secrets masked outside templates), hashes it (SHA-512, the
    existing salt kept so a second run changes nothing) and writes the hash to /etc/shadow
    itself: no command line carries it, and the state's comment and changes show Salt's
    redaction placeholder in its place. The render only checks that the secret is there
    and decrypted.

    lustre_upgrade:firewall `high-availability` (the default) opens the high-availability
    service in the zone lustre_upgrade:server:firewall_zone (permanent and runtime);
    `disabled` stops and disables firewalld. The zone is one word (lustre/map.jinja refuses
    anything else, naming the key) and is quoted where it joins a command line.

    The HA packages (pcs, pacemaker, corosync, fence-agents) are installed only in the
    upgrade run of this node (pillar lustre_upgrade_run:evacuated_node: <this minion's id>,
    passed by the orchestration once the node serves no target). Otherwise (a routine
    state.highstate) lustre-ha-packages-upgrade-pending lists those an upgrade would
    install and changes nothing; the hacluster account, the firewall and pcsd (started,
    never stopped) are configuration and apply either way. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set config = lustre.config %}
{%- set secret_key = 'lustre_upgrade:secrets:hacluster_password' %}
{%- set secret = salt['pillar.get'](secret_key) %}
{%- if secret is none or secret == '' %}
  {{- raise('pillar ' ~ secret_key ~ ' is missing or empty: set the hacluster password there, '
            ~ 'GPG-encrypted (see pillar.example/lustre_upgrade/secrets.sls). Nothing was applied') }}
{%- elif secret is not string %}
  {{- raise('pillar ' ~ secret_key ~ ' is not a string: quote the password in the pillar '
            ~ '(before encrypting it). Nothing was applied') }}
{%- elif secret.lstrip().startswith('-----BEGIN PGP MESSAGE-----') %}
  {{- raise('pillar ' ~ secret_key ~ ' is still GPG-encrypted: the master could not decrypt it. '
            ~ 'Check that the file starts with #!yaml|gpg and that the master\'s gpg_keydir holds '
            ~ 'the secret key it was encrypted for. Nothing was applied') }}
{%- endif %}
{%- set firewall = salt['pillar.get']('lustre_upgrade:firewall', 'high-availability') %}
{%- if firewall not in ['high-availability', 'disabled'] %}
  {{- raise('pillar lustre_upgrade:firewall is ' ~ (firewall | string) ~ ': the allowed values '
            ~ 'are high-availability, disabled. Nothing was applied') }}
{%- endif %}
{%- set zone = config.firewall_zone %}
{%- if lustre.upgrading %}

lustre-ha-cluster-packages-installed:
  pkg.installed:
    - pkgs: {{ config.ha_packages | json }}
  {%- set packages_state = {'pkg': 'lustre-ha-cluster-packages-installed'} %}
{%- else %}

{#- Outside the upgrade run of this node: what it would change, nothing changed. #}
lustre-ha-packages-upgrade-pending:
  lustre_server.upgrade_pending:
    - name: {{ ('HA packages of ' ~ lustre.minion) | json }}
    - pkgs: {{ config.ha_packages | json }}
  {%- set packages_state = {'lustre_server': 'lustre-ha-packages-upgrade-pending'} %}
{%- endif %}

{#- Normally created by the pacemaker packages; ensured for hosts where they were not. #}
lustre-ha-haclient-group-present:
  group.present:
    - name: haclient
    - system: True
    - require:
{%- for state, id in packages_state.items() %}
      - {{ state }}: {{ id }}
{%- endfor %}

lustre-ha-hacluster-user-present:
  user.present:
    - name: hacluster
    - gid: haclient
    - shell: /sbin/nologin
    - createhome: False
    - system: True
    - password: __slot__:salt:config.get({{ secret_key }})
    - hash_password: True
    - require:
      - group: lustre-ha-haclient-group-present

{%- if firewall == 'high-availability' %}

lustre-ha-firewalld-running:
  service.running:
    - name: {{ config.services.firewall }}
    - enable: True
    - require:
      - user: lustre-ha-hacluster-user-present

{#- `firewall-cmd --permanent --add-service=high-availability`; the state reloads firewalld
    after a change, which also applies it to the running configuration. #}
lustre-ha-firewall-high-availability-permanent:
  firewalld.present:
    - name: {{ zone }}
    - services:
      - high-availability
    - prune_services: False
    - require:
      - service: lustre-ha-firewalld-running

{#- `firewall-cmd --add-service=high-availability`: the running configuration, when only it
    lacks the service. The command runs without a shell (Salt splits it into words); the
    `unless` check is a string Salt always gives to a shell, hence the quoting. #}
lustre-ha-firewall-high-availability-runtime:
  cmd.run:
    - name: {{ ('firewall-cmd --zone=' ~ (zone | quote) ~ ' --add-service=high-availability') | json }}
    - python_shell: False
    - unless: {{ ('firewall-cmd --zone=' ~ (zone | quote) ~ ' --query-service=high-availability') | json }}
    - require:
      - firewalld: lustre-ha-firewall-high-availability-permanent
  {%- set firewall_state = {'cmd': 'lustre-ha-firewall-high-availability-runtime'} %}
{%- else %}

lustre-ha-firewalld-stopped-and-disabled:
  service.dead:
    - name: {{ config.services.firewall }}
    - enable: False
    - require:
      - user: lustre-ha-hacluster-user-present
  {%- set firewall_state = {'service': 'lustre-ha-firewalld-stopped-and-disabled'} %}
{%- endif %}

lustre-ha-pcsd-running:
  service.running:
    - name: {{ config.services.pcsd }}
    - enable: True
    - require:
{%- for state, id in firewall_state.items() %}
      - {{ state }}: {{ id }}
{%- endfor %}
