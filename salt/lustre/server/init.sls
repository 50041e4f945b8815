{#- An EL7 Lustre server for the node's OSD flavour (runbook: "Install the Lustre Server
    Software"): lustre.server.kernel (repositories, e2fsprogs, the Lustre kernel, development
    packages, persistent hostid, reboot), then, once the Lustre kernel runs, the flavour's
    Lustre packages, the DKMS check and the kernel modules.

    Only in the upgrade run of this node (pillar lustre_upgrade_run:evacuated_node: <this
    minion's id>, passed by the orchestration once the node serves no target). Otherwise
    (a routine state.highstate of a serving node) no Lustre package is installed or
    changed: lustre-server-packages-upgrade-pending lists those an upgrade would install,
    beside lustre.server.kernel's report of the kernel and the pending reboot, and nothing
    is changed. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set flavour = lustre.flavour %}

include:
  - lustre.server.kernel
{%- if not lustre.upgrading %}

{#- Outside the upgrade run of this node: what it would change, nothing changed. #}
lustre-server-packages-upgrade-pending:
  lustre_server.upgrade_pending:
    - name: {{ ('Lustre packages (' ~ lustre.osd ~ ') of ' ~ lustre.minion) | json }}
    - pkgs: {{ flavour.packages | json }}
    - require:
      - lustre_server: lustre-server-kernel-upgrade-pending
{%- else %}

{#- Stops this run while the node reboots into the Lustre kernel. With test=True it passes
    with the same comment, so the plan goes on to show the states after the reboot. #}
lustre-server-running-lustre-kernel:
  test.configurable_test_state:
    - name: {{ ('running kernel is ' ~ lustre.kernel_release) | json }}
    - changes: False
    - result: False
    - comment: {{ ('the node is not running the Lustre kernel ' ~ lustre.kernel_release
                   ~ ' yet: it reboots into it (state lustre-server-reboot-into-lustre-kernel);'
                   ~ ' apply lustre.server again once the minion is back') | json }}
    - unless: {{ lustre.running_kernel_is_lustre | json }}
    - require:
      - cmd: lustre-server-reboot-into-lustre-kernel

lustre-server-lustre-packages-installed:
  pkg.installed:
    - pkgs: {{ flavour.packages | json }}
    - require:
      - test: lustre-server-running-lustre-kernel
{%- if flavour.hostid %}
      - hostid: lustre-server-hostid-persistent
{%- endif %}
{%- set ns = namespace(state='pkg', id='lustre-server-lustre-packages-installed') %}

{%- if flavour.dkms %}

lustre-server-dkms-modules-installed:
  dkms.installed:
    - name: {{ lustre.kernel_release | json }}
    - modules: {{ flavour.dkms | json }}
    - require:
      - {{ ns.state }}: {{ ns.id }}
  {%- set ns.state = 'dkms' %}
  {%- set ns.id = 'lustre-server-dkms-modules-installed' %}
{%- endif %}

{%- for module in flavour.kmods %}

lustre-server-kernel-module-{{ module }}-loaded:
  kmod.present:
    - name: {{ module }}
    - require:
      - {{ ns.state }}: {{ ns.id }}
  {%- set ns.state = 'kmod' %}
  {%- set ns.id = 'lustre-server-kernel-module-' ~ module ~ '-loaded' %}
{%- endfor %}
{%- endif %}
