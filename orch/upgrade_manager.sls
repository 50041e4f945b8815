{#- Upgrade the IML manager (runbook "Upgrade Intel Manager for Lustre" and "Create Local
    Repositories for the Lustre Packages"):
      salt-run state.orch orch.upgrade_manager
    Each phase is one state, in the runbook's order. Each runs unless the manager's ledger
    (salt-run lustre_manager.status) has it done, so a rerun resumes where a stopped or
    killed run left off; a failed phase stops the run (failhard) and says what to do.
    With test=True: the plan, nothing changed. The report: salt-run lustre_manager.report #}
{%- set phases = [
    ('preflight', '0 preflight: pillar, the manager answers, PostgreSQL up, disk, repositories'),
    ('stop-agents', '1 stop chroma-agent on the registered servers (optional, not Pacemaker)'),
    ('backup', '2 back up files and pg_dumpall --clean, verified on the master'),
    ('rebuild', '3 rebuild the manager with EL7: key dropped, hook, new key accepted once'),
    ('restore', '4 restore hosts, DNS, users, ssh, ntp and the /var/lib/chroma certificates'),
    ('install', '5 install the manager release; chroma-config setup'),
    ('chroma-stop', '6 chroma-config stop; the certificates of the backup, installed ones in certs-inst'),
    ('database', '7 restore the database with psql as postgres from the verified dump'),
    ('setup', '8 chroma-config setup: migrate the restored database'),
    ('verify', '9 verify over HTTPS: release, schema, the same servers; /repo/ needs a certificate'),
    ('repos', '10 local repositories and Manager-for-Lustre.repo'),
    ('report', '11 report'),
] %}
{%- for phase, title in phases %}

# {{ title }}
{{ phase }}:
  lustre_upgrade.manager_phase_done:
    - failhard: True
{%- endfor %}
