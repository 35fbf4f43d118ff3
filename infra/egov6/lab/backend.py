"""Turns a topology into running lab hosts and back: ``up`` (idempotent), ``down``, ``status``.

``up`` is the lab's provisioner: it writes the stack outputs document (the one the Pulumi program exports for a
cloud stack) and boots each host with the same cloud-init user-data a Hetzner server gets.

Everything a run creates is written to the state file *before* it is created, so that ``down`` (or the
clean-up after a failure or Ctrl-C) removes exactly that and nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from egov6.bootstrap import KeyPair
from egov6.errors import Egov6Error
from egov6.inventory import close_connections
from egov6.lab import acme, aptcache, image, mailsink, network, volumes
from egov6.lab.hosts import (
    LabHost,
    alive,
    prepare_root,
    remove_cgroup_parents,
    remove_root,
    start,
    stop,
    wait_for_ssh,
)
from egov6.lab.keys import server_certificate
from egov6.lab.paths import LabPaths
from egov6.lab.provision import HostKeys, lab_outputs, load_host_keys, save_host_keys, seed
from egov6.lab.shell import run
from egov6.outputs import AcmeOutput, StackOutputs, outputs_path, read_outputs, write_outputs
from egov6.secrets import write_secret
from egov6.topology import Host, Topology, dns_records

Progress = Callable[[str], None]


@dataclass
class HostState:
    address: str
    root: str
    pid: int | None = None


@dataclass
class LabState:
    stack: str
    bridge: str
    subnet: str
    gateway: str
    apt_cache_port: int
    hosts: dict[str, HostState] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> LabState | None:
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["hosts"] = {name: HostState(**h) for name, h in data["hosts"].items()}
        return cls(**data)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(path)


@dataclass(frozen=True)
class HostStatus:
    name: str
    role: str
    address: str
    state: str  # running | stopped | missing


@dataclass
class UpReport:
    image_built: bool = False
    image_seconds: float = 0.0
    created: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    create_seconds: float = 0.0


class LabBackend:
    def __init__(self, topology: Topology) -> None:
        cfg = topology.config
        if cfg.lab is None:
            raise Egov6Error(f"stack {topology.stack} is not a lab stack (no egov6:lab settings)")
        self.topology = topology
        self.lab = cfg.lab
        self.subnet = cfg.network.subnet
        self.paths = LabPaths(topology.stack)

    def _host(self, name: str, address: str) -> LabHost:
        return LabHost(name, address, self.subnet.prefixlen, self.topology.gateway, self.paths.hosts / name)

    def _new_state(self) -> LabState:
        return LabState(
            stack=self.topology.stack,
            bridge=self.lab.bridge,
            subnet=str(self.subnet),
            gateway=self.topology.gateway,
            apt_cache_port=self.lab.apt_cache_port,
        )

    def provision_outputs(self) -> tuple[StackOutputs, HostKeys]:
        """The lab's outputs document: kept values stay, missing ones are generated (like ``pulumi up``)."""
        path = outputs_path(self.topology.stack)
        previous = read_outputs(path) if path.is_file() else None
        keys = load_host_keys(self.paths.host_keys)
        outputs = lab_outputs(self.topology, previous, keys)
        save_host_keys(self.paths.host_keys, keys)
        write_outputs(path, outputs)
        return outputs, keys

    def up(self, progress: Progress) -> UpReport:
        """Creates what is missing, keeps what runs; on any failure removes what this run created."""
        report = UpReport()
        previous = LabState.load(self.paths.state_file)
        if previous and (previous.bridge != self.lab.bridge or previous.subnet != str(self.subnet)):
            raise Egov6Error(
                f"lab {self.topology.stack} runs on {previous.bridge} {previous.subnet}, the stack now says "
                f"{self.lab.bridge} {self.subnet}: run `egov6 lab down {self.topology.stack}` first"
            )
        network.check_collisions(self.lab.bridge, self.subnet, ours=previous is not None)
        state = previous or self._new_state()
        try:
            began = time.monotonic()
            if not self.paths.image.is_file():
                progress("building the Debian 12 base image (debootstrap, about a minute, once)")
            report.image_built = image.ensure_image(self.paths.image)
            report.image_seconds = time.monotonic() - began
            state.save(self.paths.state_file)
            outputs, keys = self.provision_outputs()
            network.create_bridge(self.lab.bridge, self.topology.gateway, self.subnet)
            aptcache.start(self.paths.state, self.paths.cache, self.topology.gateway, self.lab.apt_cache_port)
            if self.topology.config.smtp is None:
                self._start_mail_sink(outputs)
            outputs = self._start_acme(outputs)
            began = time.monotonic()
            self._start_hosts(state, outputs, keys, report, progress)
            report.create_seconds = time.monotonic() - began
        except BaseException:
            progress("lab up failed: removing what this run created")
            self._roll_back(state, report, whole_lab=previous is None)
            raise
        return report

    def _start_hosts(
        self, state: LabState, outputs: StackOutputs, keys: HostKeys, report: UpReport, progress: Progress
    ) -> None:
        proxy = f"http://{self.topology.gateway}:{self.lab.apt_cache_port}"
        for declared in self.topology.hosts:
            host = self._host(declared.name, declared.private_ip)
            current = state.hosts.get(host.name)
            if current and alive(current.pid):
                report.kept.append(host.name)
                continue
            state.hosts[host.name] = HostState(host.address, str(host.root))
            state.save(self.paths.state_file)
            if not (host.root / "etc/os-release").exists():
                progress(f"creating {host.name} ({host.address}) from the cached image")
                image.unpack(self.paths.image, host.root)
                report.created.append(host.name)
            prepare_root(host, seed(outputs, host.name, keys), proxy)
            progress(f"booting {host.name}")
            log = self.paths.state / f"{host.name}.console.log"
            devices = volumes.binds(self.paths.state, declared, outputs.host(declared.name).volumes)
            state.hosts[host.name].pid = start(host, self.lab.bridge, log, devices)
            state.save(self.paths.state_file)
            report.started.append(host.name)
        for name in report.started:
            host_state = state.hosts[name]
            wait_for_ssh(self._host(name, host_state.address), host_state.pid or 0, outputs.host(name).host_keys)
            progress(f"{name} answers on SSH with its pinned host key")

    def _bridge_certificate(self, outputs: StackOutputs, name: str) -> tuple[Path, Path, Path]:
        """A certificate from the lab CA for a helper service on the bridge address: its file, its key's file and
        the CA's file (the helpers ACME cannot certify: the ACME server itself and the SMTP sink)."""
        assert outputs.lab_ca is not None
        ca = KeyPair(outputs.lab_ca.private_key.get_secret_value(), outputs.lab_ca.certificate)
        pair = server_certificate(ca, self.topology.gateway)
        cert, key, ca_file = (self.paths.state / f"{name}.{kind}" for kind in ("crt", "key", "ca.crt"))
        write_secret(key, pair.private_key)
        cert.write_text(pair.public_key, encoding="utf-8")
        ca_file.write_text(ca.public_key, encoding="utf-8")
        return cert, key, ca_file

    def _start_mail_sink(self, outputs: StackOutputs) -> None:
        """The lab's mail relay on the bridge (STARTTLS required)."""
        cert, key, _ca = self._bridge_certificate(outputs, "mailsink")
        mailsink.start(self.paths.state, self.topology.gateway, self.lab.mail_sink_port, cert, key)

    def _start_acme(self, outputs: StackOutputs) -> StackOutputs:
        """The lab's ACME server with the stack's zone; the outputs name it and keep every root it issued under."""
        gateway = self.topology.gateway
        cert, key, ca_file = self._bridge_certificate(outputs, "pebble")
        acme.start(self.paths.state, gateway, cert, key, ca_file)
        self.point_names(self.zone())
        kept = outputs.acme.roots if outputs.acme.directory == acme.directory(gateway) else ()
        roots = (ca_file.read_text(encoding="utf-8"), *kept, acme.root(gateway, ca_file))
        current = outputs.model_copy(update={"acme": AcmeOutput(directory=acme.directory(gateway),
                                                                roots=tuple(dict.fromkeys(roots)))})  # fmt: skip
        if current != outputs:
            write_outputs(outputs_path(self.topology.stack), current)
        return current

    def zone(self) -> dict[str, str]:
        """The stack's DNS names (FQDN) and the lab addresses they point at."""
        address = {host.name: host.private_ip for host in self.topology.hosts}
        domain = self.topology.config.domain
        return {f"{name}.{domain}": address[host] for name, host in dns_records(self.topology).items()}

    def point_names(self, records: dict[str, str]) -> None:
        """Points names of the stack's zone at lab addresses (the restore drill moves a service name to its host)."""
        acme.point(self.topology.gateway, records)

    def _roll_back(self, state: LabState, report: UpReport, whole_lab: bool) -> None:
        if whole_lab:
            self.down(progress=lambda _msg: None)
            return
        for name in report.started:
            host_state = state.hosts.pop(name)
            host = self._host(name, host_state.address)
            stop(host, host_state.pid)
            if name in report.created:
                remove_root(host)
        state.save(self.paths.state_file)

    def status(self) -> list[HostStatus]:
        state = LabState.load(self.paths.state_file)
        rows = []
        for declared in self.topology.hosts:
            current = state.hosts.get(declared.name) if state else None
            kind = "missing" if current is None else "running" if alive(current.pid) else "stopped"
            rows.append(HostStatus(declared.name, declared.role, declared.private_ip, kind))
        return rows

    def start_extra_host(self, declared: Host, seed_files: dict[str, str], host_keys: tuple[str, ...],
                         volume_ids: dict[str, str], progress: Progress) -> None:  # fmt: skip
        """A host outside the topology on the running lab's bridge (the restore drill's fresh host), created from
        the cached image with its own cloud-init seed; recorded in the lab's state first, so that `lab down` or
        `remove_extra_host` removes it whatever happens."""
        name, address = declared.name, declared.private_ip
        state = LabState.load(self.paths.state_file)
        if state is None:
            raise Egov6Error(f"lab {self.topology.stack} is not up: run `egov6 lab up {self.topology.stack}` first")
        if name in state.hosts or name in {h.name for h in self.topology.hosts}:
            raise Egov6Error(f"lab host {name} exists already: remove it with `egov6 lab down` or wait for its run")
        host = self._host(name, address)
        state.hosts[name] = HostState(address, str(host.root))
        state.save(self.paths.state_file)
        progress(f"creating {name} ({address}) from the cached image")
        image.unpack(self.paths.image, host.root)
        prepare_root(host, seed_files, f"http://{self.topology.gateway}:{self.lab.apt_cache_port}")
        devices = volumes.binds(self.paths.state, declared, volume_ids)
        state.hosts[name].pid = start(host, self.lab.bridge, self.paths.state / f"{name}.console.log", devices)
        state.save(self.paths.state_file)
        wait_for_ssh(host, state.hosts[name].pid or 0, host_keys)
        progress(f"{name} answers on SSH with its pinned host key")

    def remove_extra_host(self, name: str) -> bool:
        """Stops and removes a host made by ``start_extra_host``; False when there is none of that name."""
        if name in {h.name for h in self.topology.hosts}:
            raise Egov6Error(f"{name} is a host of the stack, not an extra host")
        state = LabState.load(self.paths.state_file)
        if state is None or name not in state.hosts:
            return False
        current = state.hosts.pop(name)
        host = self._host(name, current.address)
        stop(host, current.pid)
        remove_root(host)
        volumes.detach(self.paths.state, name, remove=True)
        state.save(self.paths.state_file)
        return True

    def stop_host(self, name: str) -> None:
        """Stops one host but keeps its root (fault tests; `up` starts it again)."""
        state = LabState.load(self.paths.state_file)
        if state is None or name not in state.hosts:
            raise Egov6Error(f"lab host {name} is not running")
        close_connections(self.paths.local)
        stop(self._host(name, state.hosts[name].address), state.hosts[name].pid)

    def down(self, progress: Progress) -> None:
        state = LabState.load(self.paths.state_file)
        if state is None:
            progress(f"lab {self.topology.stack} is not up: nothing to remove")
            return
        close_connections(self.paths.local)
        close_connections(self.paths.drill_local)
        for name, host_state in state.hosts.items():
            progress(f"stopping and removing {name}")
            host = self._host(name, host_state.address)
            stop(host, host_state.pid)
            remove_root(host)
        volumes.detach(self.paths.state)
        aptcache.stop(self.paths.state)
        mailsink.stop(self.paths.state)
        acme.stop(self.paths.state)
        network.delete_bridge(state.bridge)
        remove_cgroup_parents()
        # The lab's stack state goes with it (`pulumi destroy`): outputs, the files written from them, host keys.
        local = self.paths.local
        # ("ca": the lab CA's files that older checkouts kept there)
        leftovers = ("outputs.json", "ssh_config", "known_hosts", "automation_ed25519", "secrets", "trusted-roots.pem",
                     "backup_maintenance_ed25519", "borg", "ca")  # fmt: skip
        for leftover in leftovers:
            run(["rm", "-rf", "--one-file-system", str(local / leftover)])
        run(["rm", "-rf", "--one-file-system", str(self.paths.state)])
        # what a restore drill kept (--keep) beside the lab's own files: its inventory and ssh config
        run(["rm", "-rf", "--one-file-system", str(self.paths.drill_local)])
        progress(f"lab {self.topology.stack} removed (bridge {state.bridge}, {len(state.hosts)} hosts)")
