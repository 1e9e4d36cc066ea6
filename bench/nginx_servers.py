"""nginx for the router benchmark: two tiny JSON model backends, and nginx itself as a 90/10 split proxy.

Runs as the current user from a temporary prefix (config, pid, logs and temp paths inside
it), in the foreground (`daemon off`), bound to loopback only.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CANDIDATE_BODY", "STABLE_BODY", "Ports", "backends_config", "nginx_binary", "split_proxy_config", "start_nginx"]

STABLE_BODY = '{"predictions":[0.7]}'
CANDIDATE_BODY = '{"predictions":[0.71]}'


@dataclass(frozen=True)
class Ports:
    stable: int
    candidate: int
    split_proxy: int


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None)


def _frame(prefix: Path, http_body: str) -> str:
    temp = "\n".join(f"  {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
{temp}
{http_body}
}}
"""


def backends_config(prefix: Path, ports: Ports) -> str:
    """Two model servers answering every request with a fixed KServe v1 prediction."""
    servers = "\n".join(
        f"  server {{ listen 127.0.0.1:{port}; location / {{ default_type application/json; return 200 '{body}'; }} }}"
        for port, body in ((ports.stable, STABLE_BODY), (ports.candidate, CANDIDATE_BODY))
    )
    return _frame(prefix, servers)


def split_proxy_config(prefix: Path, ports: Ports) -> str:
    """nginx as the reference proxy: split_clients 90/10 over kept-alive upstream connections."""
    body = f"""
  upstream stable {{ server 127.0.0.1:{ports.stable}; keepalive 64; }}
  upstream candidate {{ server 127.0.0.1:{ports.candidate}; keepalive 64; }}
  split_clients "$request_id" $variant {{ 90% stable; * candidate; }}
  server {{
    listen 127.0.0.1:{ports.split_proxy};
    location / {{
      proxy_pass http://$variant;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header x-model-variant $variant;
    }}
  }}"""
    return _frame(prefix, body)


def start_nginx(binary: str, prefix: Path, config: str, core: int) -> subprocess.Popen[bytes]:
    """nginx in the foreground on one CPU core; the caller terminates it."""
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(config)
    command = ["taskset", "-c", str(core), binary, "-p", str(prefix), "-c", str(path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
