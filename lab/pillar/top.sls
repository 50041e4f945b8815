# Lab pillar: the same key layout as pillar.example, values for the lab's pair.
base:
  '*':
    - lustre_upgrade
    - lustre_upgrade.secrets
