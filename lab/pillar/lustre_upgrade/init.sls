# The lab's pair, in pillar.example's layout. `lab/labctl up` reads this file too: node
# ids, names and ring addresses of the lab come from here (checked before anything is
# created). Addresses are private and exist only inside the lab's network namespaces.
lustre_upgrade:
  cluster_name: lustre-ha-cluster
  osd: ldiskfs
  manager:
    # The lab's manager node: minion `mgr`, host name iml.lab.example, 10.213.0.10 on the
    # lab's bridge (lab.toml [manager] address) in every node's /etc/hosts.
    minion: mgr
    fqdn: iml.lab.example
  pairs:
    oss1:
      osd: ldiskfs
      nodes:
        # Upgrade order: the first node is node 1.
        - minion: oss1-a
          old_name: oss1-a
          fqdn: oss1-a.lab.example
          rings: [10.213.0.1, 10.213.1.1]
        - minion: oss1-b
          old_name: oss1-b
          fqdn: oss1-b.lab.example
          rings: [10.213.0.2, 10.213.1.2]
  # The lab repository (HTTP on the lab hub, inside the lab's namespaces only).
  repos:
    base: http://10.213.0.254:8080/base
    lustre-server: http://10.213.0.254:8080/lustre-server
    lustre-client: http://10.213.0.254:8080/lustre-client
    e2fsprogs-wc: http://10.213.0.254:8080/e2fsprogs-wc
    # The lab's RPMs are unsigned: EPEL (checked with epel-release's key by default) says so.
    epel:
      baseurl: http://10.213.0.254:8080/epel
      gpgcheck: false
    manager-for-lustre: http://10.213.0.254:8080/manager-for-lustre
    dnf-el7: http://10.213.0.254:8080/dnf-el7
    # IML's agent repository (the manager node, iml.lab.example, also serves it as IML
    # 4.0 does: https://iml.lab.example/repo/iml-agent/7, to a client certificate signed
    # by the manager's CA, with https://iml.lab.example/repo/Manager-for-Lustre.repo).
    iml-agent: http://10.213.0.254:8080/iml-agent
    # The IML 4.0 manager release (the lab's stand-in package python2-iml-manager).
    iml-manager: http://10.213.0.254:8080/iml-manager
  firewall: disabled
  # The Lustre 2.10.7 kernel the lab's lustre-server repository carries (a site pins the
  # kernel of its own Lustre release the same way).
  server:
    flavours:
      ldiskfs:
        kernel_version: 3.10.0-957.1.3.el7_lustre
  backup:
    keep_minion_identity: false
  rebuild:
    # The lab's rebuild hook (a PXE reinstall): hard power off, fresh EL7, same minion id,
    # a new key the master does not know (delete the old one first, accept the new one).
    hook: command
    command: [lab/labctl, rebuild, '{minion}']
    # Seconds the run waits for a rebuilt node's new key and minion.
    timeout: 600
    # The reactor resumes a run stopped for a rebuild once the node is back and verified.
    auto_resume: true
