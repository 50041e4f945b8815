import pytest

from _modules import dkms
from lustre_upgrade_lib import dkms_status
from tests.support import SUITE_FIXTURES, real_fixture_params

NODE = SUITE_FIXTURES / "node"
K = "3.10.0-957.1.3.el7_lustre.x86_64"


def entry(module, version, kernel, arch, state, warning=None):
    return {
        "module": module,
        "version": version,
        "kernel": kernel,
        "arch": arch,
        "state": state,
        "warning": warning,
    }


@pytest.mark.parametrize(
    "path",
    real_fixture_params(
        "online-help/dkms-status.txt", "online-help/dkms-status.variant-missing-space.txt"
    ),
)
def test_the_runbooks_dkms_status_output_parses_into_three_installed_modules(path):
    assert dkms_status.parse(path.read_text()) == [
        entry("lustre", "2.10.7", K, "x86_64", "installed"),
        entry("spl", "0.7.1", K, "x86_64", "installed"),
        entry("zfs", "0.7.1", K, "x86_64", "installed"),
    ]


@pytest.mark.parametrize(
    "path",
    real_fixture_params(
        "online-help/dkms-status.txt", "online-help/dkms-status.variant-missing-space.txt"
    ),
)
def test_the_runbooks_dkms_status_output_verifies_for_its_kernel_only(path):
    entries = dkms_status.parse(path.read_text())
    assert dkms_status.evaluate(entries, ["lustre", "spl", "zfs"], K)["ok"] is True
    other = dkms_status.evaluate(entries, ["lustre", "zfs"], "3.10.0-862.el7.x86_64")
    assert other["ok"] is False
    assert other["missing"] == ["lustre", "zfs"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # dkms 2.x
        (
            f"lustre, 2.10.7, {K}, x86_64: installed",
            entry("lustre", "2.10.7", K, "x86_64", "installed"),
        ),
        # dkms 3.x
        (
            f"lustre/2.10.7, {K}, x86_64: installed",
            entry("lustre", "2.10.7", K, "x86_64", "installed"),
        ),
        ("lustre/2.10.7: added", entry("lustre", "2.10.7", None, None, "added")),
        ("spl, 0.7.13: added", entry("spl", "0.7.13", None, None, "added")),
        ("lnet-extra/1.0: broken", entry("lnet-extra", "1.0", None, None, "broken")),
        (f"spl/0.7.13, {K}, x86_64: built", entry("spl", "0.7.13", K, "x86_64", "built")),
        (
            f"zfs/0.7.13, {K}, x86_64: installed"
            " (WARNING! Diff between built and installed module!)"
            " (WARNING! Diff between built and installed module!)",
            entry(
                "zfs",
                "0.7.13",
                K,
                "x86_64",
                "installed",
                "WARNING! Diff between built and installed module!",
            ),
        ),
        (
            f"zfs/0.7.13, {K}, x86_64: installed (original_module exists)",
            entry("zfs", "0.7.13", K, "x86_64", "installed", "original_module exists"),
        ),
        (
            f"zfs/0.7.13, {K}, x86_64: installed (Original modules exist) "
            "(Differences between built and installed modules)",
            entry(
                "zfs",
                "0.7.13",
                K,
                "x86_64",
                "installed",
                "Original modules exist; Differences between built and installed modules",
            ),
        ),
        (
            f"lustre, 2.10.7, 3.10.0-957.5.1.el7_lustre.x86_64, x86_64: installed-weak from {K}",
            entry(
                "lustre",
                "2.10.7",
                "3.10.0-957.5.1.el7_lustre.x86_64",
                "x86_64",
                "installed-weak",
                f"installed-weak from {K}",
            ),
        ),
        # a version with an epoch and a module version holding dashes
        (
            "amdgpu/1:6.1.5-1649308.el9, 5.14.0-284.30.1.el9_2.x86_64, x86_64: installed",
            entry(
                "amdgpu",
                "1:6.1.5-1649308.el9",
                "5.14.0-284.30.1.el9_2.x86_64",
                "x86_64",
                "installed",
            ),
        ),
        # trailing blanks as some dkms releases print them
        (
            f"lustre/2.10.7, {K}, x86_64: installed   ",
            entry("lustre", "2.10.7", K, "x86_64", "installed"),
        ),
    ],
)
def test_every_dkms_status_line_format_parses(line, expected):
    assert dkms_status.parse_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "",
        "Deprecated feature: REMAKE_INITRD (/usr/src/zfs-0.7.13/dkms.conf)",
        "Error! Could not locate dkms.conf file.",
        "File: /var/lib/dkms/spl/0.7.9/source/dkms.conf does not exist.",
        f"nvidia/515.65.01, {K}, x86_64: installedDeprecated feature: REMAKE_INITRD",
        "lustre/: added",
        f"lustre, 2.10.7, {K}, x86_64, extra: installed",
    ],
)
def test_lines_that_are_not_status_lines_are_not_taken_for_modules(line):
    assert dkms_status.parse_line(line) is None


def test_dkms3_output_parses_like_dkms2_output():
    entries = dkms_status.parse((NODE / "dkms3-status-lustre-zfs.txt").read_text())
    assert [(e["module"], e["version"], e["kernel"], e["state"]) for e in entries] == [
        ("lustre", "2.10.7", K, "installed"),
        ("spl", "0.7.13", K, "installed"),
        ("zfs", "0.7.13", K, "installed"),
    ]
    assert dkms_status.evaluate(entries, ["lustre", "spl", "zfs"], K) == {
        "ok": True,
        "missing": [],
        "warnings": [],
        "kernel": K,
        "found": {e["module"]: e for e in entries},
    }


def test_notes_among_the_status_lines_are_skipped():
    entries = dkms_status.parse((NODE / "dkms3-status-with-notes.txt").read_text())
    assert [e["module"] for e in entries] == ["lustre", "zfs"]


def test_added_and_built_modules_are_missing_and_the_remedy_names_the_version_to_install():
    entries = dkms_status.parse((NODE / "dkms3-status-mixed.txt").read_text())
    result = dkms_status.evaluate(entries, ["lustre", "spl", "zfs"], K)
    assert result["ok"] is False
    assert result["missing"] == ["lustre", "spl"]
    assert result["warnings"] == [
        f"zfs/0.7.13 on {K}: WARNING! Diff between built and installed module!"
    ]
    remedy = dkms_status.remedy(result)
    assert remedy[0].startswith("lustre/2.10.7 is added to the DKMS tree only")
    assert f"dkms install -m lustre -v 2.10.7 -k {K}" in remedy[0]
    assert f"dkms install -m spl -v 0.7.13 -k {K}" in remedy[1]
    assert f"kernel-devel-{K}" in remedy[1]


def test_a_module_absent_from_the_tree_is_missing_and_the_remedy_names_its_package():
    entries = dkms_status.parse((NODE / "dkms3-status-lustre-zfs.txt").read_text())
    result = dkms_status.evaluate(entries, ["lustre", "zfs", "lnet-extra"], K)
    assert result["missing"] == ["lnet-extra"]
    assert "yum install lnet-extra-dkms" in dkms_status.remedy(result)[0]


def test_dkms31_annotations_keep_installed_modules_but_missing_files_count_as_missing():
    k = "3.10.0-1160.49.1.el7_lustre.x86_64"
    entries = dkms_status.parse((NODE / "dkms31-status-annotations.txt").read_text())
    result = dkms_status.evaluate(entries, ["lustre", "spl", "zfs"], k)
    assert result["missing"] == ["zfs"]
    assert result["warnings"] == [
        f"lustre/2.12.9 on {k}: Original modules exist",
        f"spl/0.7.13 on {k}: Differences between built and installed modules",
        f"zfs/0.7.13 on {k}: Built modules are missing in the kernel modules folder",
    ]
    assert "dkms install --force -m zfs -v 0.7.13" in dkms_status.remedy(result)[0]


def test_a_weak_install_counts_as_installed_with_a_warning():
    entries = dkms_status.parse((NODE / "dkms2-status-weak-and-added.txt").read_text())
    weak_kernel = "3.10.0-957.5.1.el7_lustre.x86_64"
    result = dkms_status.evaluate(entries, ["lustre"], weak_kernel)
    assert result["ok"] is True
    assert result["warnings"] == [f"lustre/2.10.7 on {weak_kernel}: installed-weak from {K}"]


def test_dkms2_missing_built_modules_make_the_module_missing():
    entries = dkms_status.parse((NODE / "dkms2-status-weak-and-added.txt").read_text())
    result = dkms_status.evaluate(entries, ["lustre", "spl", "zfs"], K)
    assert result["missing"] == ["spl", "zfs"]


def test_the_architecture_filter_excludes_other_architectures():
    entries = dkms_status.parse(f"lustre/2.10.7, {K}, aarch64: installed\n")
    assert dkms_status.evaluate(entries, ["lustre"], K)["ok"] is True
    assert dkms_status.evaluate(entries, ["lustre"], K, arch="x86_64")["missing"] == ["lustre"]


@pytest.mark.parametrize("modules", ["lustre, spl,zfs", ["lustre", " spl ", "", "zfs"]])
def test_module_lists_come_as_lists_or_comma_separated_strings(modules):
    entries = dkms_status.parse((NODE / "dkms3-status-lustre-zfs.txt").read_text())
    result = dkms_status.evaluate(entries, modules, K)
    assert list(result["found"]) == ["lustre", "spl", "zfs"]
    assert result["ok"] is True


def test_verification_carries_the_remedy_for_each_missing_module():
    entries = dkms_status.parse((NODE / "dkms3-status-mixed.txt").read_text())
    result = dkms_status.verification(entries, ["lustre", "spl", "zfs"], K)
    assert result["missing"] == ["lustre", "spl"]
    assert result["remedy"] == dkms_status.remedy(result)
    assert len(result["remedy"]) == 2


def test_the_modules_parse_status_is_the_librarys_reading():
    text = (NODE / "dkms31-status-annotations.txt").read_text()
    assert dkms.parse_status(text) == dkms_status.parse(text)
    assert dkms.parse_status(text)
