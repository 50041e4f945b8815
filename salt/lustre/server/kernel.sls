{#- An EL7 Lustre server up to its reboot into the Lustre kernel (runbook: "Install the
    Lustre Server Software", up to and including "Reboot the node"), for the node's OSD
    flavour (see lustre/map.jinja). `lustre.server` continues after the reboot.

    The reboot is scheduled (lustre_upgrade:server:reboot:command, default `shutdown -r +1`)
    only while the running kernel (reboot:running_kernel_command, default `uname -r`) is not
    the Lustre kernel this file installs; test=True never runs it. Whoever applies this
    waits for the minion to come back (the orchestration does). #}
{%- from "lustre/map.jinja" import lustre with context %}
{%- set flavour = lustre.flavour %}
{%- set kernel_version = flavour.kernel_version %}
{%- set ns = namespace(state=None, id=None) %}

include:
{%- for sls in lustre.repo_sls %}
  - {{ sls }}
{%- endfor %}

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

lustre-server-reboot-into-lustre-kernel:
  cmd.run:
    - name: {{ lustre.config.reboot.command | json }}
    - unless: {{ lustre.running_kernel_is_lustre | json }}
    - require:
      - {{ ns.state }}: {{ ns.id }}
