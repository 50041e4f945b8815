{#- salt/minion/<id>/start: hands off to the runners, which verify a node a pair's or the
    manager's upgrade ledger awaits and, with lustre_upgrade:rebuild:auto_resume, resume
    the run. #}
lustre-upgrade-minion-started:
  runner.lustre_upgrade.minion_started:
    - args:
      - minion: {{ data['id'] | json }}

lustre-manager-minion-started:
  runner.lustre_manager.minion_started:
    - args:
      - minion: {{ data['id'] | json }}
