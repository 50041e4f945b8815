{#- salt/auth: a key is waiting. Hands off to the runners, which accept it only for a node
    a pair's or the manager's upgrade ledger awaits (awaiting-rebuild), once, with a new
    fingerprint. #}
{%- if data.get('act') == 'pend' and data.get('id') %}
lustre-upgrade-key-pending:
  runner.lustre_upgrade.key_pending:
    - args:
      - minion: {{ data['id'] | json }}

lustre-manager-key-pending:
  runner.lustre_manager.key_pending:
    - args:
      - minion: {{ data['id'] | json }}
{%- endif %}
