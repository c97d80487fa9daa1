"""A server under test in its own process: CPU time and peak RSS from /proc, stop by SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from bench import loadgen


class ServerProcess:
    port: int
    process: subprocess.Popen | None = None
    log_file: IO[bytes] | None = None

    async def wait_ready(self, host: str, what: str, log_path: Path, seconds: float = 120) -> None:
        """Until ``GET /readyz`` answers 200; raises if the process exits or ``seconds`` pass."""
        ready = f"GET /readyz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{what} exited; see {log_path}")
            try:
                if (await loadgen.request_once(host, self.port, ready)).status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{what} did not become ready; see {log_path}")

    def _proc(self, name: str) -> str:
        return Path(f"/proc/{self.process.pid}/{name}").read_text()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        fields = self._proc("stat").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in self._proc("status").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return float("nan")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file is not None:
            self.log_file.close()
