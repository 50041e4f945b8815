{#- salt/auth: a key is waiting. Hands off to the runner, which accepts it only for a node
    a pair's upgrade ledger awaits (awaiting-rebuild), once, with a new fingerprint. #}
{%- if data.get('act') == 'pend' and data.get('id') %}
lustre-upgrade-key-pending:
  runner.lustre_upgrade.key_pending:
    - args:
      - minion: {{ data['id'] | json }}
{%- endif %}
