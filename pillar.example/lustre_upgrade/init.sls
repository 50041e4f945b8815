# Example pillar for saltext-lustre-upgrade. Copy it to your pillar_roots and edit.
lustre_upgrade:
  # Name of the new EL7 Pacemaker cluster of every pair (IML's own name).
  cluster_name: lustre-ha-cluster

  # Default OSD flavour of the servers, overridable per pair and per node:
  #   ldiskfs-zfs  both OSDs (what IML installs on managed-mode clusters)
  #   ldiskfs      LDISKFS only
  #   zfs          ZFS only (DKMS)
  osd: ldiskfs-zfs

  # The IML manager server (runbook: "Upgrade Intel Manager for Lustre").
  # salt-run state.orch orch.upgrade_manager upgrades it (EL6 IML 2.4 -> EL7 IML 4.0).
  manager:
    minion: iml              # its minion id
    fqdn: iml.lfs.example    # the name servers use in https://<fqdn>/repo/…
    # stop_agents: false     # stop chroma-agent on the registered servers before the
    #                        # rebuild (fewer warnings; never touches Pacemaker)
    # package: python2-iml-manager   # the release, from lustre_upgrade:repos:iml-manager
    # database: chroma       # the IML database (rows, servers) read with psql as postgres
    # min_free_mib: 512      # free space needed on the manager and the master
    # repos:                 # runbook: "Create Local Repositories for the Lustre Packages"
    #   mode: mirror         # reposync + createrepo into /var/lib/chroma/repo, served in
    #                        # Manager-for-Lustre.repo (needs server:lustre_repos: manager);
    #                        # upstream: the servers use lustre_upgrade:repos directly.
    #                        # Default: mirror when server:lustre_repos is manager.
    #   mirror: [lustre-server, lustre-client, e2fsprogs-wc]   # the runbook's only ones
    #   release: latest      # or a Lustre release (2.10.8): latest-release in the
    #                        # lustre-server/-client base URLs becomes lustre-2.10.8
    #   debuginfo: false     # true: mirror the debuginfo packages too

  # One entry per HA pair; `salt-run state.orch orch.upgrade_pair pillar='{pair: oss1}'`.
  pairs:
    oss1:
      osd: ldiskfs
      nodes:
        # Upgrade order: the first node is "node 1" (evacuated and rebuilt first).
        - minion: oss1-a           # minion id, the same before and after the rebuild
          old_name: oss1-a         # `uname -n` on EL6: the node name in the old CIB
          fqdn: oss1-a.lfs.example # the node name in the new cluster (IML uses FQDNs)
          # Corosync ring addresses of this node, ring0 first (pcs >= 0.10 needs one per
          # link; pcs 0.9 takes the ring networks from the backed-up corosync.conf).
          rings: [10.0.10.1, 10.0.20.1]
        - minion: oss1-b
          old_name: oss1-b
          fqdn: oss1-b.lfs.example
          rings: [10.0.10.2, 10.0.20.2]
    mds1:
      nodes:
        - minion: mds1-a
          old_name: mds1-a
          fqdn: mds1-a.lfs.example
          osd: ldiskfs-zfs       # per-node override of the pair's flavour
          rings: [10.0.10.11, 10.0.20.11]
        - minion: mds1-b
          old_name: mds1-b
          fqdn: mds1-b.lfs.example
          rings: [10.0.10.12, 10.0.20.12]

  # Package repositories of the EL7 servers. The manager mirrors the Lustre ones
  # (runbook: "Create Local Repositories"); servers fetch Manager-for-Lustre.repo from it.
  # Each is a base URL, or a mapping that says how yum checks its package signatures:
  #   lustre-server:
  #     baseurl: https://downloads.whamcloud.com/public/lustre/lustre-2.10.8/el7/server
  #     gpgkey: https://mirror.lfs.example/keys/RPM-GPG-KEY-lustre  # checks on with this key
  #   epel:
  #     baseurl: https://mirror.lfs.example/epel/7/x86_64
  #     gpgcheck: false            # unsigned (a local rebuild): install unchecked
  # A base URL alone: unchecked (the runbook's Lustre and e2fsprogs packages are
  # unsigned), except epel, checked with the key epel-release installs
  # (/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-7). The OS repositories stay checked.
  # The COPR repositories sign their packages too, e.g.
  #   manager-for-lustre:
  #     baseurl: https://copr-be.cloud.fedoraproject.org/results/managerforlustre/manager-for-lustre/epel-7-x86_64
  #     gpgkey: https://copr-be.cloud.fedoraproject.org/results/managerforlustre/manager-for-lustre/pubkey.gpg
  repos:
    lustre-server: https://downloads.whamcloud.com/public/lustre/lustre-2.10.8/el7/server
    lustre-client: https://downloads.whamcloud.com/public/lustre/lustre-2.10.8/el7/client
    e2fsprogs-wc: https://downloads.whamcloud.com/public/e2fsprogs/latest/el7
    epel: https://dl.fedoraproject.org/pub/epel/7/x86_64
    manager-for-lustre: https://copr-be.cloud.fedoraproject.org/results/managerforlustre/manager-for-lustre/epel-7-x86_64
    dnf-el7: https://copr-be.cloud.fedoraproject.org/results/ngompa/dnf-el7/epel-7-x86_64
    # The IML 4.0 manager release (orch.upgrade_manager installs python2-iml-manager).
    iml-manager: https://mirror.lfs.example/iml-manager/4.0/el7   # a local copy of the release

  # Firewall of the HA framework: `high-availability` opens the high-availability service
  # (permanent and runtime); `disabled` stops and disables firewalld.
  firewall: high-availability

  backup:
    # Also keep the minion's own id and key in the backup, so the rebuilt node keeps its
    # identity on the master without a new key to accept.
    keep_minion_identity: false

  rebuild:
    # How phase 3 hands a node over to the OS installer:
    #   manual   the orchestration stops and waits for an operator to reinstall the node
    #   command  the master runs `command` ({minion} becomes the minion id), e.g. a site's
    #            PXE/kickstart/IPMI wrapper; the node's minion comes back on its own
    # Either way the master first deletes the node's old minion key and, when the
    # reinstalled node asks, accepts its new key once (only for a node the run handed
    # over, only a key with another fingerprint).
    hook: manual
    # command: [/usr/local/sbin/reinstall-el7, '{minion}']
    # Seconds the run waits for the rebuilt node's new key and minion (also the hook's
    # own time limit).
    timeout: 3600
    # With the reactor configured (README, "The reactor"), resume the run by itself once a
    # rebuilt node's minion starts and is verified (manual hook: no rerun needed).
    auto_resume: false

  # The cutover to the new cluster (phase 6): `per-target` (default) moves one target at a
  # time, each out only for its own stop and start; `all-at-once` is the runbook's way
  # (every target stopped, the old cluster stopped, every target started). Per pair:
  # pairs:<pair>:cutover.
  cutover: per-target

  # Optional overrides of the EL7 server states' defaults (salt/lustre/map.jinja; dicts
  # merge, lists replace). Shown with their defaults.
  # server:
  #   lustre_repos: pillar        # or `manager`: lustre-server/-client/e2fsprogs-wc come
  #                               # from the manager's Manager-for-Lustre.repo instead
  #   reboot:                     # the reboot into the Lustre kernel (lustre.server), only
  #                               # in the upgrade run of the node (see lustre_upgrade_run below)
  #     command: shutdown -r +1 "lustre.server: rebooting into the Lustre kernel"
  #     running_kernel_command: uname -r
  #   flavours:
  #     ldiskfs:
  #       kernel_version: 3.10.0-957.10.1.el7_lustre
  #   repo_options: {}            # extra pkgrepo.managed options per repository id
  #   repo_gpgkeys:               # keys of repositories given without a gpgkey
  #     epel: file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-7
  #   arch: x86_64                # arch, kernel_version and firewall_zone are words of
  #   firewall_zone: public       # command lines: letters, digits and . _ + ~ - only
  #   ntp: {step: true}           # step the clock once (ntpd -qg) after the restore

# Not here: the run keys under `lustre_upgrade_run` are passed by the orchestration on the
# command line of one run, never kept in a pillar file. `lustre_upgrade_run:evacuated_node:
# <minion id>` names the node it has moved every target off; only that node's states
# install the Lustre kernel and packages and reboot it. Without it a state.highstate
# changes none of that and reports what an upgrade would change (*-upgrade-pending).
