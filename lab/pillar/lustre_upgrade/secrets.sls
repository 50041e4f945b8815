# Lab secrets, in clear: the lab is a throwaway test environment (a site encrypts these,
# see pillar.example/lustre_upgrade/secrets.sls).
lustre_upgrade:
  secrets:
    hacluster_password: lab-hacluster-pw
