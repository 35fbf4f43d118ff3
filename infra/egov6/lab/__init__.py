"""The lab backend: the stack's topology as systemd-nspawn hosts on a local bridge (see lab-notes)."""
