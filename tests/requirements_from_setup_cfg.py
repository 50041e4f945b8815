"""Print install_requires and the named extras of a setup.cfg, one requirement a line.

The test virtualenv gets the extension's dependencies without the extension itself.
"""

import configparser
import sys


def requirements(setup_cfg, extras):
    cfg = configparser.ConfigParser()
    cfg.read(setup_cfg)
    lines = cfg.get("options", "install_requires", fallback="").splitlines()
    for extra in extras:
        lines += cfg.get("options.extras_require", extra).splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1], sys.argv[2:])))
