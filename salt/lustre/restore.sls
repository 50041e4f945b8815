{#- Restore this node's OS configuration from its own backup (runbook: "Restore the Node OS
    Configuration from Backup", and /var/lib/chroma of "Install the IML Agent").

    The backup is the path the orchestration delivered to the node and the checksums the
    master recorded when it delivered it (salt-run lustre_upgrade.deliver_backup returns all
    three), passed as pillar lustre_upgrade_run, with the node itself as the run's
    evacuated node (lustre_upgrade_run:evacuated_node: the restore replaces configuration
    files and steps the clock, so it runs only on the node the orchestration has evacuated):
      salt oss1-a state.apply lustre.restore pillar='{lustre_upgrade_run: {
        backup: /var/lib/lustre-upgrade/restore/<archive>.sealed,
        sha256: <sha256>, archive_sha256: <archive_sha256>, evacuated_node: oss1-a} }'
    ntp is installed first, so the restored ntp.conf replaces the packaged one (kept as
    ntp.conf.inst, like the runbook's mv); the clock is then stepped once (`ntpd -qg`,
    lustre_upgrade:server:ntp:step) and ntpd enabled and started. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set ntp = lustre.config.ntp %}
{%- set run = salt['pillar.get']('lustre_upgrade_run', {}) %}
{%- for key in ('backup', 'sha256', 'archive_sha256') %}
{%-   if not run.get(key) or run.get(key) is not string %}
  {{- raise('pillar lustre_upgrade_run:' ~ key ~ ' is not set: lustre.restore needs the path of '
            ~ 'this node\'s delivered backup and the checksums the master recorded (backup, '
            ~ 'sha256, archive_sha256), passed by the orchestration; deliver it with salt-run '
            ~ 'lustre_upgrade.deliver_backup ' ~ lustre.minion ~ ', which returns all three. '
            ~ 'Nothing was applied') }}
{%-   endif %}
{%- endfor %}
{%- if not lustre.upgrading %}
  {{- raise('lustre.restore runs only in the upgrade run of this node: pillar '
            ~ lustre.run_key ~ ' is not ' ~ lustre.minion ~ ' (the orchestration passes it '
            ~ 'with the backup, once the node serves no target). Nothing was applied') }}
{%- endif %}
{%- set backup = run.backup %}

lustre-restore-ntp-installed:
  pkg.installed:
    - name: {{ ntp.package }}

lustre-restore-node-configuration:
  node_backup.restored:
    - name: {{ backup | json }}
    - sha256: {{ run.sha256 | json }}
    - archive_sha256: {{ run.archive_sha256 | json }}
    - require:
      - pkg: lustre-restore-ntp-installed

{%- if ntp.step %}

{#- Only while ntpd is not running: it holds the NTP port. #}
lustre-restore-ntp-clock-stepped:
  cmd.run:
    - name: {{ ntp.step_command | json }}
    - timeout: {{ ntp.step_timeout }}
    - onchanges:
      - node_backup: lustre-restore-node-configuration
    - unless:
      - fun: service.status
        args:
          - {{ ntp.service }}
{%- endif %}

lustre-restore-ntpd-running:
  service.running:
    - name: {{ ntp.service }}
    - enable: True
    - require:
      - node_backup: lustre-restore-node-configuration
{%- if ntp.step %}
      - cmd: lustre-restore-ntp-clock-stepped
{%- endif %}
    - watch:
      - node_backup: lustre-restore-node-configuration
