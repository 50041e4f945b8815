{#- The IML agent of an EL7 Lustre server: its repositories and packages (iml.agent.install),
    the Lustre server software (lustre.server), then the target mount points (runbook,
    end of "Configure the High Availability Framework") and "Start the Agent Service and Load
    the Kernel Modules". Outside the upgrade run of this node (pillar
    lustre_upgrade_run:evacuated_node not this minion's id) no package is installed and
    the node is never rebooted (see iml.agent.install and lustre.server): the mount points,
    the agent service (started, never stopped) and the lustre module apply either way. #}
{%- from "lustre/map.jinja" import lustre with context %}

include:
  - iml.agent.install
  - lustre.server

{#- The ocf:chroma:Target agent fails on a target whose mount point is missing. #}
iml-agent-target-mountpoints:
  iml.target_mountpoints:
    - name: {{ lustre.config.targets_dir | json }}
    - require:
{%- if lustre.upgrading %}
      - pkg: iml-agent-packages-installed
{%- else %}
      - lustre_server: iml-agent-packages-upgrade-pending
{%- endif %}

iml-agent-service-running:
  service.running:
    - name: {{ lustre.config.services.agent }}
    - enable: True
    - require:
      - iml: iml-agent-target-mountpoints
      - sls: lustre.server

{#- The ocf:chroma:Target agent aborts unless the Lustre modules are loaded. #}
iml-agent-lustre-module-loaded:
  kmod.present:
    - name: lustre
    - require:
      - service: iml-agent-service-running
