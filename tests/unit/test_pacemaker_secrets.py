"""Secrets never leave the pacemaker module: masked returns, no password on a command line,
no command output echoed in an error when the command carried a secret."""

import glob
import inspect
import os
import re
import subprocess
from xml.etree import ElementTree

import pytest
from salt.exceptions import CommandExecutionError

from _modules import corosync, pacemaker
from lustre_upgrade_lib import masking
from tests.unit.test_pacemaker_live import NODES, Recorder

SECRET = "Very-Secret-Value-42"

# What a fence agent's metadata says of a parameter whose value is itself a secret (its
# metadata has no secret flag): a password, passphrase, secret, SNMP community, API key or
# token, cloud access key, IPMI Kg key. "Use sudo (without password)" is not one.
SECRET_DESCRIPTION = re.compile(
    r"password|passphrase|secret|community|api key|api token|access key|kg key", re.I
)


def _fence_agent_parameters():
    params = {}
    for path in sorted(glob.glob("/usr/sbin/fence_*")):
        try:
            proc = subprocess.run(
                [path, "-o", "metadata"], capture_output=True, text=True, timeout=20, check=False
            )
            root = ElementTree.fromstring(proc.stdout)
        except (subprocess.TimeoutExpired, ElementTree.ParseError, OSError):
            continue  # fence_ack_manual and friends print no metadata
        for param in root.iter("parameter"):
            text = " ".join((e.text or "") for e in param if e.tag in ("shortdesc", "longdesc"))
            params.setdefault(param.get("name"), set()).add((os.path.basename(path), text))
    return params


def test_every_secret_parameter_of_the_installed_fence_agents_is_masked():
    params = _fence_agent_parameters()
    if not params:
        pytest.skip("no fence agent installed (Debian package fence-agents)")
    secret = {
        name
        for name, seen in params.items()
        if any(
            SECRET_DESCRIPTION.search(text.replace("without password", "")) for _agent, text in seen
        )
    }
    assert {"passwd", "password", "community", "hexadecimal_kg", "snmp_priv_passwd"} <= secret
    unmasked = sorted(
        f"{name} ({', '.join(sorted(agent for agent, _ in params[name]))})"
        for name in secret
        if not (masking.is_secret(name) and masking.is_secret(f"0_fence_{name}"))
    )
    assert unmasked == []


@pytest.mark.parametrize(
    "name",
    ["apikey", "0_fence_apikey", "1_fence_api_key", "access_key", "0_fence_passwd_script"],
)
def test_known_fence_agent_secret_names_are_masked_as_node_attributes_too(name):
    assert masking.is_secret(name)
    assert masking.masked(name, SECRET) == masking.MASK


def test_the_table_of_fence_agent_secrets_covers_iml_and_the_common_agents():
    table = masking.FENCE_AGENT_SECRETS
    for agent in ("fence_chroma", "fence_ipmilan", "fence_apc", "fence_apc_snmp", "fence_virsh"):
        assert agent in table
        assert all(masking.is_secret(name) for name in table[agent])
    assert "hexadecimal_kg" in table["fence_ipmilan"]
    assert "community" in table["fence_apc_snmp"]


@pytest.fixture
def run_all(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": recorder}, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {}, raising=False)
    monkeypatch.setattr(pacemaker, "__pillar__", {}, raising=False)
    return recorder


PATCH = f"""<diff format="2">
  <change operation="create" path="/cib/configuration/nodes/node[@id='1']" position="0">
    <instance_attributes id="nodes-1">
      <nvpair id="nodes-1-0_fence_password" name="0_fence_password" value="{SECRET}"/>
      <nvpair id="nodes-1-0_fence_plug" name="0_fence_plug" value="mds1"/>
    </instance_attributes>
  </change>
  <change operation="modify"
      path="/cib/configuration/nodes/node[@id='2']/instance_attributes[@id='nodes-2']/nvpair[@id='nodes-2-1_fence_password']">
    <change-list>
      <change-attr name="value" operation="set" value="{SECRET}"/>
    </change-list>
    <change-result>
      <nvpair id="nodes-2-1_fence_password" name="1_fence_password" value="{SECRET}"/>
    </change-result>
  </change>
</diff>
"""


def test_diff_cib_returns_the_patch_with_every_secret_masked(run_all, tmp_path):
    run_all.answers.append((1, PATCH))
    shown = pacemaker.diff_cib("/a.xml", "/b.xml")
    assert SECRET not in shown
    assert shown.count(masking.MASK) == 3
    assert 'value="mds1"' in shown


def test_diff_cib_writes_the_real_patch_to_a_private_file_for_cibadmin(run_all, tmp_path):
    run_all.answers.append((1, PATCH))
    out = tmp_path / "restore.patch"
    shown = pacemaker.diff_cib("/a.xml", "/b.xml", output=str(out))
    assert SECRET not in shown
    assert out.read_text() == PATCH
    assert out.stat().st_mode & 0o777 == 0o600


def test_no_cli_example_puts_a_secret_on_a_command_line():
    for module in (pacemaker, corosync):
        for name, func in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            doc = func.__doc__ or ""
            example = doc.split("CLI Example", 1)[-1] if "CLI Example" in doc else ""
            assert not re.search(r"(passw|secret|community)\w*(?<!_file)=", example, re.I), (
                f"{module.__name__}.{name}: {example}"
            )


def test_auth_reads_the_password_from_a_file(run_all, tmp_path):
    pw_file = tmp_path / "hacluster.pw"
    pw_file.write_text(f"{SECRET}\n")
    pw_file.chmod(0o600)
    ret = pacemaker.auth(["a.example"], password_file=str(pw_file), dialect="0.10")
    argv, kwargs = run_all.calls[0]
    assert kwargs["stdin"] == f"{SECRET}\n"
    assert SECRET not in repr(ret) + repr(argv)


def test_auth_reads_the_password_from_the_loaded_pillar_never_pillar_get(run_all, monkeypatch):
    pillar = {"lustre_upgrade": {"secrets": {"hacluster_password": SECRET}}}
    monkeypatch.setattr(pacemaker, "__pillar__", pillar, raising=False)
    run_all_salt = pacemaker.__salt__
    run_all_salt["pillar.get"] = lambda *a, **k: pytest.fail("pillar.get masks secrets")
    pacemaker.auth(["a.example"], dialect="0.10")
    assert run_all.calls[0][1]["stdin"] == f"{SECRET}\n"


def test_auth_without_any_password_names_where_to_put_it(run_all):
    with pytest.raises(CommandExecutionError, match="lustre_upgrade:secrets:hacluster_password"):
        pacemaker.auth(["a.example"], dialect="0.10")
    assert run_all.calls == []


class Leaky(Recorder):
    """A command that fails and prints the secret it was given."""

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return {"retcode": 2, "stdout": f"stdout {SECRET}", "stderr": f"stderr {SECRET}"}


@pytest.mark.parametrize(
    "call",
    [
        lambda: pacemaker.auth(["a.example"], SECRET, dialect="0.10"),
        lambda: pacemaker.read_cib(),
        lambda: pacemaker.save_cib("/nonexistent/out.xml"),
        lambda: pacemaker.diff_cib("/a.xml", "/b.xml"),
    ],
    ids=["auth", "read_cib", "save_cib", "diff_cib"],
)
def test_a_failing_command_that_carried_a_secret_never_echoes_its_output(monkeypatch, call):
    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": Leaky()}, raising=False)
    monkeypatch.setattr(pacemaker, "__context__", {}, raising=False)
    with pytest.raises(CommandExecutionError) as err:
        call()
    assert SECRET not in str(err.value)
    assert "by hand" in str(err.value)


def test_a_failing_fencing_update_never_echoes_its_output(monkeypatch):
    leaky = Leaky()
    answers = iter([{"retcode": 0, "stdout": NODES, "stderr": ""}])

    def run_all(argv, **kwargs):
        return next(answers, None) or leaky(argv, **kwargs)

    monkeypatch.setattr(pacemaker, "__salt__", {"cmd.run_all": run_all}, raising=False)
    with pytest.raises(CommandExecutionError) as err:
        pacemaker.set_node_attributes("ct6-mds1.lfs.intl", {"0_fence_password": SECRET})
    assert SECRET not in str(err.value)


def test_node_attribute_command_never_returns_a_secret(run_all):
    for dialect in ("0.9", "0.10", "0.12"):
        argv = pacemaker.node_attribute_command(
            "a.example",
            [["0_fence_password", SECRET], ["0_fence_plug", "a"]],
            dialect=dialect,
        )
        assert SECRET not in repr(argv)
        assert "0_fence_password=********" in argv and "0_fence_plug=a" in argv


def test_the_module_docstring_says_how_secrets_travel():
    doc = " ".join(pacemaker.__doc__.split())
    assert "on stdin" in doc and "never on a command line" in doc
    assert "the output of a command that carried a secret is never shown" in doc
