"""A real single-node Slurm on this machine, for the cluster tests, and by hand.

    sudo python3.11 -m tests.local_slurm start /tmp/snnbench-slurm   # prints the SLURM_CONF to export
    export SLURM_CONF=/tmp/snnbench-slurm/slurm.conf
    snnbench sweep vogels-abbott-coba --backends numba --N-pop 400,800 --simtime 100 \\
        --cluster slurm:2 --cluster-cores 1 --cluster-memory 2GiB
    sudo python3.11 -m tests.local_slurm stop /tmp/snnbench-slurm

It needs root (slurmd runs jobs as their users) and Debian's `slurm-wlm` and `munge` packages
(install.sh installs them). `start` writes a minimal slurm.conf into the directory (one node,
this machine, described by `slurmd -C`; one partition; process tracking without cgroups), with
all state, spool, pid and log files there, on two free ports; starts munged (as user munge) if
it is not running, then slurmctld and slurmd in the foreground of their own sessions, and waits
until `sinfo` shows the node idle. `stop` cancels the jobs, stops the daemons it started (by the
process ids it wrote down) and any slurmstepd of this configuration, then munged if it started it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

DAEMONS = ("slurmctld", "slurmd", "munged")
CLIENTS = ("sinfo", "sbatch", "squeue", "scancel")


class SlurmUnavailable(RuntimeError):
    """Slurm cannot start here; the message says precisely why."""


def why_not() -> str | None:
    """Why a local Slurm cannot start on this machine, or None if it can be tried."""
    if not sys.platform.startswith("linux"):
        return f"a local Slurm needs Linux, not {sys.platform}"
    missing = [name for name in DAEMONS + CLIENTS + ("mungekey", "runuser") if _which(name) is None]
    if missing:
        return (f"not installed: {', '.join(missing)} (Debian packages slurm-wlm and munge; "
                "install.sh installs them)")
    if os.geteuid() != 0:
        return "a local Slurm needs root (slurmd starts jobs as their users; munged's key is root's to create)"
    return None


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


class LocalSlurm:
    """slurmctld + slurmd (+ munged) on this machine, configured and kept in `root`."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.conf = self.root / "slurm.conf"
        self.state_file = self.root / "daemons.json"
        self.partition = "snnbench"

    @property
    def env(self) -> dict[str, str]:
        # The daemons dlopen plugins that leave symbols they never call unresolved, which only
        # works with lazy binding. Brian2's standalone device sets LD_BIND_NOW=1 in os.environ
        # (its run_environment_variables) for the rest of the process: inherited, it makes
        # slurmctld fail on prep_script.so ("undefined symbol: container_g_join"), as a
        # whole-suite run showed. The dynamic loader's variables stay out of the daemons' env.
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
        return {**clean, "SLURM_CONF": str(self.conf)}

    def _slurm(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([_which(args[0]) or args[0], *args[1:]], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    # ---------------------------------------------------------------------- start

    def start(self, timeout: float = 90) -> "LocalSlurm":
        reason = why_not()
        if reason:
            raise SlurmUnavailable(reason)
        self.root.mkdir(parents=True, exist_ok=True)
        started: dict[str, int] = {}
        try:
            munged = self._start_munge()
            if munged:
                started["munged"] = munged
            self._write_conf()
            for daemon in ("slurmctld", "slurmd"):
                with open(self.root / f"{daemon}.out", "wb") as log:
                    proc = subprocess.Popen([_which(daemon), "-D", "-f", str(self.conf)], env=self.env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, cwd=self.root)
                started[daemon] = proc.pid
                self.state_file.write_text(json.dumps(started))
            self._wait_idle(timeout)
        except BaseException:
            self.state_file.write_text(json.dumps(started))
            self.stop()
            raise
        self.state_file.write_text(json.dumps(started))
        return self

    def _start_munge(self) -> int | None:
        """Start munged as user munge unless a working one is running; its pid if this started it."""
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return None
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run([_which("mungekey"), "--create", "--keyfile", str(key)], check=True, capture_output=True)
            shutil.chown(key, "munge", "munge")
            key.chmod(0o400)
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        proc = subprocess.run([_which("runuser"), "-u", "munge", "--", _which("munged")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SlurmUnavailable(f"munged did not start: {proc.stderr.strip() or proc.stdout.strip()}")
        for _ in range(50):
            if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
                pid_file = run_dir / "munged.pid"
                return int(pid_file.read_text()) if pid_file.exists() else None
            time.sleep(0.1)
        raise SlurmUnavailable("munged started but `munge -n` still fails")

    def _write_conf(self) -> None:
        host = socket.gethostname().split(".")[0]
        probe = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, timeout=30)
        node = next((line for line in probe.stdout.splitlines() if line.startswith("NodeName=")), None)
        if node is None:
            raise SlurmUnavailable(f"`slurmd -C` did not describe this node: {probe.stderr.strip()}")
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(exist_ok=True)
        r = self.root
        self.conf.write_text(f"""\
# A single-node Slurm for snnbench's tests (tests/local_slurm.py); everything lives in {r}.
ClusterName=snnbench
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName={self.partition} Nodes={node.split()[0].split("=")[1]} Default=YES MaxTime=INFINITE State=UP
""")

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        states = ""
        while time.monotonic() < deadline:
            for daemon, pid in json.loads(self.state_file.read_text()).items():
                if daemon != "munged" and not psutil.pid_exists(pid):
                    raise SlurmUnavailable(f"{daemon} exited at start:\n{_tail(self.root / f'{daemon}.log')}"
                                           f"\n{_tail(self.root / f'{daemon}.out')}")
            try:
                proc = self._slurm("sinfo", "-h", "-N", "-o", "%T", timeout=10)
                states = (proc.stdout + proc.stderr).strip()
                if proc.returncode == 0 and states.split() and all(s == "idle" for s in states.split()):
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)
        raise SlurmUnavailable(f"the node did not become idle within {timeout:g} s (sinfo: {states!r}):\n"
                               f"{_tail(self.root / 'slurmctld.log')}\n{_tail(self.root / 'slurmd.log')}")

    # ---------------------------------------------------------------------- stop

    def stop(self, timeout: float = 30) -> list[str]:
        """Cancel every job, stop what start() started; return what was still running after it (empty: clean)."""
        started = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        if started.get("slurmctld") and psutil.pid_exists(started["slurmctld"]):
            try:
                self._slurm("scancel", "--partition", self.partition, "--quiet", timeout=15)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and self._slurm("squeue", "-h", "-o", "%i", timeout=10).stdout.strip():
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                pass
        for daemon in ("slurmd", "slurmctld"):
            if daemon in started:
                _terminate(started[daemon], timeout)
        for proc in self._job_steps():  # slurmstepd of this configuration that outlived its job
            _terminate(proc.pid, timeout)
        if "munged" in started:
            _terminate(started["munged"], timeout)
        self.state_file.unlink(missing_ok=True)
        left = [f"{name} (pid {pid})" for name, pid in started.items() if _alive(pid)]
        return left + [f"slurmstepd (pid {p.pid})" for p in self._job_steps()]

    def _job_steps(self) -> list[psutil.Process]:
        steps = []
        for proc in psutil.process_iter(["name"]):
            try:
                if proc.info["name"] == "slurmstepd" and proc.environ().get("SLURM_CONF") == str(self.conf):
                    steps.append(proc)
            except psutil.Error:
                pass
        return steps


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; reaps it if it is our child."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    except psutil.Error:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python3.11 -m tests.local_slurm start|stop DIR", file=sys.stderr)
        return 2
    slurm = LocalSlurm(argv[1])
    if argv[0] == "start":
        try:
            slurm.start()
        except SlurmUnavailable as exc:
            print(f"local_slurm: {exc}", file=sys.stderr)
            return 1
        print(f"export SLURM_CONF={slurm.conf}")
        return 0
    left = slurm.stop()
    if left:
        print(f"local_slurm: still running: {', '.join(left)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
