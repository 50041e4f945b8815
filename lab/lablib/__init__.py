"""The lab: a real two-node Corosync/Pacemaker pair with Salt minions (see lab/README.md)."""
