{#- Read-only checks of an upgraded EL7 Lustre server: every state here only looks, and
    fails with what is wrong; none changes anything (apply it with or without test=True).
    The running kernel, the flavour's DKMS modules and kernel modules, the persistent
    hostid (ZFS flavours), the cluster, agent and time services, and the target mount
    points. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set flavour = lustre.flavour %}
{%- set config = lustre.config %}

lustre-verify-running-lustre-kernel:
  test.fail_without_changes:
    - name: {{ ('running kernel is ' ~ lustre.kernel_release) | json }}
    - comment: {{ ('the running kernel is not ' ~ lustre.kernel_release ~ ': the upgrade run of '
                   ~ 'this node installs it and reboots into it (lustre.server with pillar '
                   ~ lustre.run_key ~ ': ' ~ lustre.minion ~ ', passed by the orchestration '
                   ~ 'once the node serves no target)') | json }}
    - unless: {{ lustre.running_kernel_is_lustre | json }}

{%- if flavour.dkms %}

lustre-verify-dkms-modules-installed:
  dkms.installed:
    - name: {{ lustre.kernel_release | json }}
    - modules: {{ flavour.dkms | json }}
{%- endif %}

{%- for module in flavour.kmods %}

lustre-verify-kernel-module-{{ module }}-loaded:
  test.fail_without_changes:
    - name: kernel module {{ module }} is loaded
    - comment: {{ ('kernel module ' ~ module ~ ' is not loaded: run modprobe -v ' ~ module
                   ~ ' and read its error') | json }}
    - unless:
      - fun: file.directory_exists
        args:
          - /sys/module/{{ module }}
{%- endfor %}

{%- if flavour.hostid %}

lustre-verify-hostid-persistent:
  test.fail_without_changes:
    - name: {{ ('persistent hostid in ' ~ config.hostid_file) | json }}
    - comment: {{ (config.hostid_file ~ ' does not exist: ZFS pools could be imported under a '
                   ~ 'hostid that changes; apply lustre.server (state hostid.persistent)') | json }}
    - unless:
      - fun: hostid.read
        path: {{ config.hostid_file | json }}
        get_return: persistent
{%- endif %}

{%- for service in [config.services.pcsd, config.services.agent, config.ntp.service] %}

lustre-verify-service-{{ service }}-running:
  test.fail_without_changes:
    - name: service {{ service }} is running
    - comment: {{ ('service ' ~ service ~ ' is not running: systemctl status ' ~ service) | json }}
    - unless:
      - fun: service.status
        args:
          - {{ service }}

lustre-verify-service-{{ service }}-enabled:
  test.fail_without_changes:
    - name: service {{ service }} starts at boot
    - comment: {{ ('service ' ~ service ~ ' is not enabled: systemctl enable ' ~ service) | json }}
    - unless:
      - fun: service.enabled
        args:
          - {{ service }}
{%- endfor %}

lustre-verify-target-store-present:
  test.fail_without_changes:
    - name: {{ ('IML target store ' ~ config.targets_dir) | json }}
    - comment: {{ (config.targets_dir ~ ' does not exist: restore /var/lib/chroma from the node\'s '
                   ~ 'backup (apply lustre.restore)') | json }}
    - unless:
      - fun: file.directory_exists
        args:
          - {{ config.targets_dir | json }}

{#- Fails when any target of IML's store has no mount point (the check creates nothing). #}
lustre-verify-target-mountpoints:
  test.fail_without_changes:
    - name: {{ ('every target in ' ~ config.targets_dir ~ ' has its mount point') | json }}
    - comment: {{ ('target mount points are missing (salt-call iml.mountpoints '
                   ~ config.targets_dir ~ '): apply iml.agent (state iml.target_mountpoints)') | json }}
    - onlyif:
      - fun: iml.make_mountpoints
        path: {{ config.targets_dir | json }}
        test: True
        get_return: created
    - require:
      - test: lustre-verify-target-store-present
