{#- An EL7 Lustre server up to its reboot into the Lustre kernel (runbook: "Install the
    Lustre Server Software", up to and including "Reboot the node"), for the node's OSD
    flavour (see lustre/map.jinja). `lustre.server` continues after the reboot.

    The reboot is scheduled (lustre_upgrade:server:reboot:command, default `shutdown -r +1`)
    only while the running kernel (reboot:running_kernel_command, default `uname -r`) is not
    the Lustre kernel this file installs; test=True never runs it. Whoever applies this
    waits for the minion to come back (the orchestration does).

    All of that only in the upgrade run of this node: pillar
    lustre_upgrade_run:evacuated_node set to this minion's id, which the orchestration passes
    once it has moved every target off the node. Otherwise (a routine state.highstate, or
    the run of the peer) nothing here reboots the node or changes e2fsprogs, the kernel
    packages or the development packages: lustre-server-kernel-upgrade-pending
    (lustre_server.upgrade_pending) lists instead each of them whose installed version
    differs from the wanted one and the pending reboot into the Lustre kernel, and
    succeeds without changes. The repositories and the persistent hostid (the one in
    effect, never changed) are configuration and apply either way. #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set flavour = lustre.flavour %}
{%- set kernel_version = flavour.kernel_version %}
{%- set ns = namespace(state=None, id=None) %}

include:
{%- for sls in lustre.repo_sls %}
  - {{ sls }}
{%- endfor %}
{%- if not lustre.upgrading %}

{#- Outside the upgrade run of this node: what it would change, nothing changed. #}
lustre-server-kernel-upgrade-pending:
  lustre_server.upgrade_pending:
    - name: {{ ('Lustre kernel' ~ (', e2fsprogs' if flavour.e2fsprogs else '')
               ~ (', development packages' if flavour.devel else '') ~ ' of ' ~ lustre.minion) | json }}
  {%- if flavour.e2fsprogs %}
    - latest: {{ flavour.e2fsprogs | json }}
    - fromrepo: e2fsprogs-wc
  {%- endif %}
    - removed_if_newer:
      - kernel-tools
      - kernel-tools-libs
    - newer_than: {{ kernel_version | json }}
    - pkgs:
  {%- for name in lustre.config.kernel_packages %}
      - {{ name }}: {{ kernel_version | json }}
  {%- endfor %}
  {%- for name in (lustre.config.devel_packages if flavour.devel else []) %}
      - {{ name | json }}
  {%- endfor %}
    - kernel_release: {{ lustre.kernel_release | json }}
    - running_kernel_command: {{ lustre.config.reboot.running_kernel_command | json }}
    - require:
  {%- for sls in lustre.repo_sls %}
      - sls: {{ sls }}
  {%- endfor %}
  {%- set ns.state = 'lustre_server' %}
  {%- set ns.id = 'lustre-server-kernel-upgrade-pending' %}
{%- else %}

{%- if flavour.e2fsprogs %}

{#- `yum --nogpgcheck --disablerepo=* --enablerepo=e2fsprogs-wc install e2fsprogs…`: yum
    upgrades an installed e2fsprogs to the newest of that repository, so pkg.latest.
    No --nogpgcheck (skip_verify) here or below: it would also take unsigned dependencies
    from EPEL and the OS repositories; an unsigned repository says gpgcheck=0 itself
    (lustre.repos, pillar lustre_upgrade:repos). #}
lustre-server-e2fsprogs-from-e2fsprogs-wc:
  pkg.latest:
    - pkgs: {{ flavour.e2fsprogs | json }}
    - fromrepo: e2fsprogs-wc
    - require:
  {%- for sls in lustre.repo_sls %}
      - sls: {{ sls }}
  {%- endfor %}
  {%- set ns.state = 'pkg' %}
  {%- set ns.id = 'lustre-server-e2fsprogs-from-e2fsprogs-wc' %}
{%- endif %}

{#- `yum erase kernel-tools kernel-tools-libs` only when they are newer than the Lustre
    kernel: an older kernel-tools-libs-devel cannot be installed beside them. kernel-tools
    requires kernel-tools-libs of its own version, so the libs' version decides. The
    comparison runs when the state runs (not at render), with Salt's version comparison. #}
lustre-server-kernel-tools-newer-than-lustre-kernel-removed:
  pkg.removed:
    - pkgs:
      - kernel-tools
      - kernel-tools-libs
    - onlyif:
      - fun: pkg.version
        args:
          - kernel-tools-libs
      - fun: pkg_resource.version_compare
        args:
          - __slot__:salt:pkg.version(kernel-tools-libs)
          - '>'
          - {{ kernel_version | json }}
    - require:
{%- for sls in lustre.repo_sls %}
      - sls: {{ sls }}
{%- endfor %}
{%- if ns.id %}
      - {{ ns.state }}: {{ ns.id }}
{%- endif %}

{#- The kernel packages, pinned to the Lustre kernel; for the patched (ldiskfs) kernels the
    OS repositories are disabled so the Lustre repository provides them. #}
lustre-server-lustre-kernel-installed:
  pkg.installed:
    - pkgs:
{%- for name in lustre.config.kernel_packages %}
      - {{ name }}: {{ kernel_version | json }}
{%- endfor %}
{%- if flavour.kernel_disablerepo %}
    - disablerepo: {{ flavour.kernel_disablerepo | json }}
{%- endif %}
    - require:
      - pkg: lustre-server-kernel-tools-newer-than-lustre-kernel-removed
{%- set ns.state = 'pkg' %}
{%- set ns.id = 'lustre-server-lustre-kernel-installed' %}

{%- if flavour.devel %}

{#- Found by Lustre's configure when its DKMS package builds (Kerberos, SELinux, …). #}
lustre-server-development-packages-installed:
  pkg.installed:
    - pkgs: {{ lustre.config.devel_packages | json }}
    - require:
      - {{ ns.state }}: {{ ns.id }}
  {%- set ns.state = 'pkg' %}
  {%- set ns.id = 'lustre-server-development-packages-installed' %}
{%- endif %}
{%- endif %}

{%- if flavour.hostid %}

{#- Before any ZFS package: a pool must never be imported under a hostid that changes. #}
lustre-server-hostid-persistent:
  hostid.persistent:
    - name: {{ lustre.config.hostid_file | json }}
    - require:
      - {{ ns.state }}: {{ ns.id }}
  {%- set ns.state = 'hostid' %}
  {%- set ns.id = 'lustre-server-hostid-persistent' %}
{%- endif %}

{%- if lustre.upgrading %}

lustre-server-reboot-into-lustre-kernel:
  cmd.run:
    - name: {{ lustre.config.reboot.command | json }}
    - unless: {{ lustre.running_kernel_is_lustre | json }}
    - require:
      - {{ ns.state }}: {{ ns.id }}
{%- endif %}
