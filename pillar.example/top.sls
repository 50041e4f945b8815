# Every key the states and orchestrations read lives under `lustre_upgrade`.
# The master's orchestrations read the whole tree; each server only needs its own view,
# but the pair's peer and the manager name are part of that view, so all servers get it.
base:
  '*':
    - lustre_upgrade
    - lustre_upgrade.secrets
