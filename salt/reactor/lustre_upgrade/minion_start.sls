{#- salt/minion/<id>/start: hands off to the runner, which verifies a node a pair's
    upgrade ledger awaits and, with lustre_upgrade:rebuild:auto_resume, resumes the run. #}
lustre-upgrade-minion-started:
  runner.lustre_upgrade.minion_started:
    - args:
      - minion: {{ data['id'] | json }}
