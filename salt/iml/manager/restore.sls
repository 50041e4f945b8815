{#- Restore the rebuilt IML manager's OS configuration from its own backup (runbook
    "Install the Operating System Update for the Manager Node", steps 3-7): hosts, DNS,
    users (merged), ssh, ntp, and the certificates of /var/lib/chroma (installed ones kept
    in /var/lib/chroma/certs-inst; repo/ is the installer's). The network configuration is
    only unpacked for reference.

    The orchestration passes the delivered backup and the master's checksums:
      salt iml state.apply iml.manager.restore pillar='{lustre_upgrade_run: {manager: iml,
        backup: /var/lib/lustre-upgrade/restore/<archive>.sealed, sha256: <sha256>,
        archive_sha256: <archive_sha256> } }' #}
{%- from "iml/manager/map.jinja" import manager with context %}
{%- set run = salt['pillar.get']('lustre_upgrade_run', {}) %}
{%- for key in ('backup', 'sha256', 'archive_sha256') %}
{%-   if not run.get(key) or run.get(key) is not string %}
  {{- raise('pillar lustre_upgrade_run:' ~ key ~ ' is not set: iml.manager.restore needs the '
            ~ 'delivered backup and the checksums the master recorded (salt-run '
            ~ 'lustre_upgrade.deliver_backup ' ~ grains['id'] ~ '). Nothing was applied') }}
{%-   endif %}
{%- endfor %}
{%- if run.get('manager') != grains['id'] %}
  {{- raise('iml.manager.restore runs only in the upgrade run of this manager: pillar '
            ~ 'lustre_upgrade_run:manager is not ' ~ grains['id'] ~ '. Nothing was applied') }}
{%- endif %}

iml-manager-restore-ntp-installed:
  pkg.installed:
    - name: {{ manager.ntp.package }}

iml-manager-restore-configuration:
  node_backup.restored:
    - name: {{ run.backup | json }}
    - sha256: {{ run.sha256 | json }}
    - archive_sha256: {{ run.archive_sha256 | json }}
    - require:
      - pkg: iml-manager-restore-ntp-installed

{%- if manager.ntp.step %}

{#- Only while ntpd is not running: it holds the NTP port. #}
iml-manager-restore-ntp-clock-stepped:
  cmd.run:
    - name: {{ manager.ntp.step_command | json }}
    - timeout: {{ manager.ntp.step_timeout }}
    - onchanges:
      - node_backup: iml-manager-restore-configuration
    - unless:
      - fun: service.status
        args:
          - {{ manager.ntp.service }}
{%- endif %}

iml-manager-restore-ntpd-running:
  service.running:
    - name: {{ manager.ntp.service }}
    - enable: True
    - require:
      - node_backup: iml-manager-restore-configuration
{%- if manager.ntp.step %}
      - cmd: iml-manager-restore-ntp-clock-stepped
{%- endif %}
    - watch:
      - node_backup: iml-manager-restore-configuration
