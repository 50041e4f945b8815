#!yaml|gpg
# Secrets, encrypted for the master's GPG key (gpg_keydir, default /etc/salt/gpgkeys):
#   echo -n 'PASSWORD' | gpg --armor --batch --trust-model always --encrypt -r <master key id>
# These blocks are encrypted for the throwaway key in tests/fixtures/gpg/: replace them.
# Fence passwords are not here: they come back from each pair's CIB backup.
# top.sls gives this file only to the nodes of the pairs in lustre_upgrade/init.sls.
lustre_upgrade:
  secrets:
    hacluster_password: |
      -----BEGIN PGP MESSAGE-----

      hQEMAwNHcPhDLX1KAQgAiMxykXqfyBpaUbIVIZ3tJ6C9QGCURBVoWYX1alm1Eaiv
      fIpBCbzs9vrBO98oqZll5zgiEpbWT37U2nxDlt4xzQzS+7V2DdQoJGFmWtIVUtaR
      QmvIbMX5AiGLlo6qwlrVOwSNHGYOKRHysSz8oeKarM0iFHMpn5mQnZSw+CB3ziNm
      s92mbdSkNKAYfx9ievl4SS80o6qpyb0VDpMWdByNGrL7bcb7Vw/PKZMdVz+kZvTT
      lk+gQK8zHYsX6lKnuQhecbTkfRBHUjkNqjmqZvWemIdD2/p5R+7SfrzdsKt/LmP7
      6MHibGoxXwPy7Pt/4UaMzJtF9yDchwX9f3B4psvbkNJTAcfiSH9xaTD+J3gaBP7L
      FRZ+CugwAs+YLK6M2zv6tSfG+wFNlQqUwUr++ydQalXvK4SI20rJGIBoytwHOZ52
      9NZFtiqDiwlOHzgrzIofAC7K5aA=
      =aBbt
      -----END PGP MESSAGE-----
